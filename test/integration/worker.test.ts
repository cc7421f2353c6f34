import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resultOf } from '../../src/backend/event-stream.ts';
import type { AnswerItem, CaptionItem, ItemKind, ItemResult } from '../../src/backend/items.ts';
import { WorkerBackend, type WorkerControls } from '../../src/backend/worker/worker-backend.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { CAPTION_CHECKPOINT, IMAGE_NAMES, IMAGES, VQA_CHECKPOINT, readImage, readJson, withoutPadding } from '../helpers/fixtures.ts';
import { createRandom } from '../unit/generation/fake-decoder.ts';
import { useFixtureVariantDirs } from '../helpers/converted-variant.ts';
import { expireMidDecode } from '../helpers/mid-decode-deadline.ts';

const run = promisify(execFile);
const CLI = new URL('../../bin/blip-gateway.mjs', import.meta.url).pathname;
const captionCases: any[] = readJson(join(CAPTION_CHECKPOINT, 'references.json')).cases;
const vqaCases: any[] = readJson(join(VQA_CHECKPOINT, 'references.json')).cases;

/** Keeps the batch busy: 16 beams × 60 tokens (the tiny decoder reads 64 positions). */
const WIDE = { maxNewTokens: 60, minNewTokens: 60, numBeams: 16 };
const IMAGE = 'shapes_400x300.jpg';

function sequenceOf(result: ItemResult): number[] {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value.sequence;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** One item through the backend, its result as a value. */
function submitOne(worker: WorkerBackend, kind: ItemKind, item: CaptionItem | AnswerItem, controls?: WorkerControls): Promise<ItemResult> {
  return resultOf(worker.submit({ kind, item } as Parameters<WorkerBackend['submit']>[0], controls));
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('inference in a worker thread', () => {
  const variants = useFixtureVariantDirs();

  it('captions in the worker exactly as transformers does, and the image buffers are transferred, not copied', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const c = captionCases.find((x) => x.name === 'batch3_greedy_noprompt');
      const images = c.images.map((name: string) => readImage(name));
      const results = await worker.caption(images.map((image: Uint8Array) => ({ image, options: { maxNewTokens: 12 } })));
      expect(results.map((r) => r.ok && r.value.sequence)).toEqual(c.output_ids.map((ids: number[]) => withoutPadding(ids)));
      // Transferred: the sender's buffers are detached.
      expect(images.every((image: Uint8Array) => image.byteLength === 0)).toBe(true);
    } finally {
      await worker.close();
    }
  });

  it('keeps the event loop free while the worker computes', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const order: string[] = [];
      const items = Array.from({ length: 24 }, () => ({ image: readImage('shapes_400x300.jpg'), options: { maxNewTokens: 12, numBeams: 4 } }));
      const inference = worker.caption(items).then(() => order.push('inference'));
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push('timer');
      await inference;
      expect(order).toEqual(['timer', 'inference']);
    } finally {
      await worker.close();
    }
  });

  it('fails requests in flight with INFERENCE_FAILED when the worker dies', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    const pending = worker.caption([{ image: readImage('shapes_400x300.jpg'), options: { maxNewTokens: 12, numBeams: 8 } }]);
    await worker.close();
    expect(await pending).toMatchObject([{ ok: false, error: { code: 'INFERENCE_FAILED' } }]);
    expect(await worker.caption([{ image: readImage('gray_33x33.png') }])).toMatchObject([{ ok: false, error: { code: 'INFERENCE_FAILED' } }]);
  });

  it('a worker killed mid-decode fails every request it holds, running and queued, with INFERENCE_FAILED', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxRows: 16 });
    const running = submitOne(worker, 'caption', { image: readImage(IMAGE), options: WIDE });
    const queued = submitOne(worker, 'caption', { image: readImage(IMAGE), options: { maxNewTokens: 3 } });
    await until(async () => (await worker.stats()).running === 1, 'the first request to run');
    await worker.close();
    expect(await running).toMatchObject({ ok: false, error: { code: 'INFERENCE_FAILED' } });
    expect(await queued).toMatchObject({ ok: false, error: { code: 'INFERENCE_FAILED' } });
    await expect(worker.stats()).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
  });

  it('captions arriving at random times, with prompts of different lengths, greedy and beams, equal their single runs', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const random = createRandom(2024);
      const prompts = [undefined, 'a picture of', 'a blue picture of the big'];
      const requests = Array.from({ length: 12 }, (_, i) => {
        const maxNewTokens = i === 0 ? 50 : 5 + Math.floor(random() * 30);
        const numBeams = i === 0 ? 4 : [1, 1, 2, 3][Math.floor(random() * 4)];
        return {
          image: IMAGE_NAMES[i % IMAGE_NAMES.length],
          prompt: prompts[Math.floor(random() * prompts.length)],
          options: { maxNewTokens, minNewTokens: random() < 0.5 ? maxNewTokens : 0, numBeams },
          arriveAt: i === 0 ? 0 : Math.floor(random() * 60),
        };
      });
      const alone: number[][] = [];
      for (const r of requests) alone.push(sequenceOf(await submitOne(worker, 'caption', { image: readImage(r.image), prompt: r.prompt, options: r.options })));
      const results = await Promise.all(
        requests.map(async (r) => {
          await delay(r.arriveAt);
          return submitOne(worker, 'caption', { image: readImage(r.image), prompt: r.prompt, options: r.options });
        }),
      );
      expect(results.map(sequenceOf)).toEqual(alone);
      // The first request shared its steps with requests that arrived while it decoded.
      expect(results[0].ok && results[0].value.batchSize).toBeGreaterThan(4);
    } finally {
      await worker.close();
    }
  });

  it('questions of different lengths arriving at random times equal their single runs', async () => {
    const worker = await WorkerBackend.start(variants.vqa, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const random = createRandom(77);
      const questions = ['what color is the sky?', 'How many dogs are in the picture?', 'is there a Café near the tower?', 'why?'];
      const requests = Array.from({ length: 10 }, (_, i) => ({
        image: IMAGE_NAMES[i % IMAGE_NAMES.length],
        question: questions[i % questions.length],
        options: { maxNewTokens: 10 + Math.floor(random() * 40), minNewTokens: 10, numBeams: 1 + (i % 3) },
        arriveAt: Math.floor(random() * 40),
      }));
      const alone: number[][] = [];
      for (const r of requests) alone.push(sequenceOf(await submitOne(worker, 'answer', { image: readImage(r.image), question: r.question, options: r.options })));
      const results = await Promise.all(
        requests.map(async (r) => {
          await delay(r.arriveAt);
          return submitOne(worker, 'answer', { image: readImage(r.image), question: r.question, options: r.options });
        }),
      );
      expect(results.map(sequenceOf)).toEqual(alone);
      // Every image was encoded once: the second run of each question hit the embedding cache.
      expect(results.every((r) => r.ok && r.value.cacheHit)).toBe(true);
      expect((await worker.stats()).cache).toMatchObject({ misses: IMAGE_NAMES.length, hits: 2 * requests.length - IMAGE_NAMES.length });
    } finally {
      await worker.close();
    }
  });

  it('a request admitted mid-decode of another joins its batch and finishes first', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxRows: 32 });
    try {
      const [wideAlone] = (await worker.caption([{ image: readImage(IMAGE), options: WIDE }])).map(sequenceOf);
      const [shortAlone] = (await worker.caption([{ image: readImage(IMAGE_NAMES[0]), prompt: 'a picture of', options: { maxNewTokens: 4 } }])).map(sequenceOf);
      const order: string[] = [];
      const wide = submitOne(worker, 'caption', { image: readImage(IMAGE), options: WIDE }).then((r) => (order.push('wide'), r));
      await until(async () => (await worker.stats()).running === 1, 'the wide request to run');
      const short = await submitOne(worker, 'caption', { image: readImage(IMAGE_NAMES[0]), prompt: 'a picture of', options: { maxNewTokens: 4 } });
      order.push('short');
      expect(sequenceOf(short)).toEqual(shortAlone);
      expect(short.ok && short.value.batchSize).toBe(17);
      expect(sequenceOf(await wide)).toEqual(wideAlone);
      expect(order).toEqual(['short', 'wide']);
    } finally {
      await worker.close();
    }
  });

  it('deadlines: a request expires in the queue or mid-decode with DEADLINE_EXCEEDED; the others complete normally', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxRows: 64 });
    try {
      const [alone] = (await worker.caption([{ image: readImage(IMAGE), options: WIDE }])).map(sequenceOf);
      const long = { maxNewTokens: 60, minNewTokens: 60 };
      // How long the four take together, so that the victim's deadline can fall in the middle of their decoding.
      const started = Date.now();
      await worker.caption([WIDE, WIDE, WIDE, long].map((options) => ({ image: readImage(IMAGE), options })));
      const batchMs = Date.now() - started;
      const outcomes = await expireMidDecode(async (fraction) => {
        const started = Date.now();
        const runners = [0, 1, 2].map(() => submitOne(worker, 'caption', { image: readImage(IMAGE), options: WIDE }));
        const victim = await submitOne(worker, 'caption', { image: readImage(IMAGE), options: long }, { deadline: started + batchMs * fraction });
        if (!victim.ok) expect(victim.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'deadline' } });
        // Mid-decode, its row leaves the batch; the runners go on (or have just finished), untouched.
        if (!victim.ok && victim.error.details?.stage === 'decode') await until(async () => (await worker.stats()).running <= 3, 'the victim to leave the batch');
        for (const result of await Promise.all(runners)) expect(sequenceOf(result)).toEqual(alone);
        return victim;
      });
      expect(outcomes.at(-1), `outcome per attempt: ${outcomes.join(', ')}`).toBe('decode');

      // 64 rows taken: the newcomer waits in the queue, where its deadline passes.
      const full = [0, 1, 2, 3].map(() => submitOne(worker, 'caption', { image: readImage(IMAGE), options: WIDE }));
      const queued = submitOne(worker, 'caption', { image: readImage(IMAGE), options: { maxNewTokens: 2 } }, { deadline: Date.now() + 20 });
      expect(await queued).toMatchObject({ ok: false, error: { code: 'DEADLINE_EXCEEDED', details: { reason: 'deadline' } } });
      for (const result of await Promise.all(full)) expect(sequenceOf(result)).toEqual(alone);
      expect(await worker.stats()).toMatchObject({ queued: 0, running: 0 });
    } finally {
      await worker.close();
    }
  });

  it('cancelling one item of a batch (its AbortSignal) settles it at once and drops its rows from the worker batch', async () => {
    const worker = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxRows: 64 });
    try {
      const [alone] = (await worker.caption([{ image: readImage(IMAGE), options: WIDE }])).map(sequenceOf);
      const controller = new AbortController();
      const [a, victim, b] = worker
        .submitGroup([
          { item: { kind: 'caption', item: { image: readImage(IMAGE), options: WIDE } } },
          { item: { kind: 'caption', item: { image: readImage(IMAGE), options: WIDE } }, controls: { signal: controller.signal } },
          { item: { kind: 'caption', item: { image: readImage(IMAGE), options: WIDE } } },
        ])
        .map(resultOf);
      await until(async () => (await worker.stats()).running === 3, 'the batch to run');
      controller.abort();
      expect(await victim).toMatchObject({ ok: false, error: { code: 'CANCELLED', details: { reason: 'cancelled' } } });
      await until(async () => (await worker.stats()).rows === 32, 'the cancelled rows to leave');
      expect(sequenceOf(await a)).toEqual(alone);
      expect(sequenceOf(await b)).toEqual(alone);
      // Aborted before submission: never sent.
      expect(await submitOne(worker, 'caption', { image: readImage(IMAGE) }, { signal: AbortSignal.abort() })).toMatchObject({ error: { details: { reason: 'cancelled' } } });
    } finally {
      await worker.close();
    }
  });

  it('answers a second question about an image without running the vision encoder again (counters in stats)', async () => {
    const worker = await WorkerBackend.start(variants.vqa, { imageLimits: DEFAULT_IMAGE_LIMITS, embeddingCacheBytes: 4096 });
    try {
      const [first] = await worker.answer([{ image: readImage(IMAGE), question: 'what color is the sky?' }]);
      const [second] = await worker.answer([{ image: readImage(IMAGE), question: 'How many dogs are in the picture?' }]);
      expect([first, second].map((r) => r.ok && r.value.cacheHit)).toEqual([false, true]);
      expect((await worker.stats()).cache).toEqual({ hits: 1, misses: 1, evictions: 0, bytes: 2176, entries: 1, maxBytes: 4096 });
      // A 4096-byte cache holds one tiny embedding (2176 bytes): another image evicts it.
      await worker.answer([{ image: readImage(IMAGE_NAMES[0]), question: 'what color is the sky?' }]);
      const [third] = await worker.answer([{ image: readImage(IMAGE), question: 'why?' }]);
      expect(third.ok && third.value.cacheHit).toBe(false);
      expect((await worker.stats()).cache).toMatchObject({ misses: 3, evictions: 2, entries: 1 });
    } finally {
      await worker.close();
    }
  });

  it('reports a variant that cannot load as MODEL_LOAD_FAILED or INVALID_VARIANT, naming the folder', async () => {
    await expect(WorkerBackend.start(join(IMAGES, 'no-such-variant'), { imageLimits: DEFAULT_IMAGE_LIMITS })).rejects.toMatchObject({
      code: 'INVALID_VARIANT',
      message: expect.stringContaining('no-such-variant'),
    });
  });

  it('CLI caption --json prints exactly one object with the reference sequence', async () => {
    const c = captionCases.find((x) => x.name === 'greedy_prompt_4');
    const { stdout } = await run(process.execPath, [CLI, 'caption', variants.caption, join(IMAGES, c.images[0]), '--prompt', c.prompt, '--max-new-tokens', '12', '--json']);
    expect(JSON.parse(stdout)).toEqual({ text: c.output_text[0], sequence: withoutPadding(c.output_ids[0]) });
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('CLI answer --json with beam search', async () => {
    const c = vqaCases.find((x) => x.name === 'beam3_single_0');
    const { stdout } = await run(process.execPath, [CLI, 'answer', variants.vqa, join(IMAGES, c.images[0]), c.questions[0], '--max-new-tokens', '8', '--num-beams', '3', '--json']);
    expect(JSON.parse(stdout)).toEqual({ text: c.answer_text[0], sequence: withoutPadding(c.answer_ids[0]) });
  });

  it('CLI reports a bad image with its error code and a non-zero exit', async () => {
    const failure = await run(process.execPath, [CLI, 'caption', variants.caption, join(CAPTION_CHECKPOINT, 'config.json')]).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/UNSUPPORTED_IMAGE_FORMAT|IMAGE_DECODE_FAILED/);
  });
});
