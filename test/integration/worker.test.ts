import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipWorker } from '../../src/blip/worker/blip-worker.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { CAPTION_CHECKPOINT, IMAGES, VQA_CHECKPOINT, convertFixture, readImage, readJson, withoutPadding, type TempVariant } from '../helpers/fixtures.ts';

const run = promisify(execFile);
const CLI = new URL('../../bin/blip-gateway.mjs', import.meta.url).pathname;
const captionCases: any[] = readJson(join(CAPTION_CHECKPOINT, 'references.json')).cases;
const vqaCases: any[] = readJson(join(VQA_CHECKPOINT, 'references.json')).cases;

describe('inference in a worker thread', () => {
  let caption: TempVariant;
  let vqa: TempVariant;
  beforeAll(async () => {
    caption = await convertFixture(CAPTION_CHECKPOINT);
    vqa = await convertFixture(VQA_CHECKPOINT);
  });
  afterAll(async () => {
    await caption?.cleanup();
    await vqa?.cleanup();
  });

  it('captions in the worker exactly as transformers does, and the image buffers are transferred, not copied', async () => {
    const worker = await BlipWorker.start(caption.dir, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const c = captionCases.find((x) => x.name === 'batch3_greedy_noprompt');
      const images = c.images.map((name: string) => readImage(name));
      const results = await worker.caption(images.map((image: Uint8Array) => ({ image, options: { maxNewTokens: 12 } })));
      expect(results.map((r) => r.ok && r.value.sequence)).toEqual(c.output_ids.map((ids: number[]) => withoutPadding(ids)));
      // Transferred: the sender's buffers are detached.
      expect(images.every((image: Uint8Array) => image.byteLength === 0)).toBe(true);
    } finally {
      await worker.terminate();
    }
  });

  it('keeps the event loop free while the worker computes', async () => {
    const worker = await BlipWorker.start(caption.dir, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const order: string[] = [];
      const items = Array.from({ length: 24 }, () => ({ image: readImage('shapes_400x300.jpg'), options: { maxNewTokens: 12, numBeams: 4 } }));
      const inference = worker.caption(items).then(() => order.push('inference'));
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push('timer');
      await inference;
      expect(order).toEqual(['timer', 'inference']);
    } finally {
      await worker.terminate();
    }
  });

  it('fails requests in flight with INFERENCE_FAILED when the worker dies', async () => {
    const worker = await BlipWorker.start(caption.dir, { imageLimits: DEFAULT_IMAGE_LIMITS });
    const pending = worker.caption([{ image: readImage('shapes_400x300.jpg'), options: { maxNewTokens: 12, numBeams: 8 } }]);
    await worker.terminate();
    await expect(pending).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await expect(worker.caption([{ image: readImage('gray_33x33.png') }])).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
  });

  it('reports a variant that cannot load as MODEL_LOAD_FAILED or INVALID_VARIANT, naming the folder', async () => {
    await expect(BlipWorker.start(join(IMAGES, 'no-such-variant'), { imageLimits: DEFAULT_IMAGE_LIMITS })).rejects.toMatchObject({
      code: 'INVALID_VARIANT',
      message: expect.stringContaining('no-such-variant'),
    });
  });

  it('CLI caption --json prints exactly one object with the reference sequence', async () => {
    const c = captionCases.find((x) => x.name === 'greedy_prompt_4');
    const { stdout } = await run(process.execPath, [CLI, 'caption', caption.dir, join(IMAGES, c.images[0]), '--prompt', c.prompt, '--max-new-tokens', '12', '--json']);
    expect(JSON.parse(stdout)).toEqual({ text: c.output_text[0], sequence: withoutPadding(c.output_ids[0]) });
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('CLI answer --json with beam search', async () => {
    const c = vqaCases.find((x) => x.name === 'beam3_single_0');
    const { stdout } = await run(process.execPath, [CLI, 'answer', vqa.dir, join(IMAGES, c.images[0]), c.questions[0], '--max-new-tokens', '8', '--num-beams', '3', '--json']);
    expect(JSON.parse(stdout)).toEqual({ text: c.answer_text[0], sequence: withoutPadding(c.answer_ids[0]) });
  });

  it('CLI reports a bad image with its error code and a non-zero exit', async () => {
    const failure = await run(process.execPath, [CLI, 'caption', caption.dir, join(CAPTION_CHECKPOINT, 'config.json')]).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/UNSUPPORTED_IMAGE_FORMAT|IMAGE_DECODE_FAILED/);
  });
});
