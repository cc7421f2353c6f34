import { describe, expect, it } from 'vitest';
import type { CaptionItem, ItemResult } from '../../../../../../src/backend/items.ts';
import { BlipPipeline, type PipelineOptions } from '../../../../../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../../../../src/config/defaults.ts';
import { IMAGE_NAMES, readImage } from '../../../../../helpers/fixtures.ts';
import { expireMidDecode } from '../../../../../helpers/mid-decode-deadline.ts';
import { useFixtureVariantDirs } from '../../../../../helpers/converted-variant.ts';

/**
 * The serving engine in-process (BlipPipeline over the tiny fixture models, real ONNX sessions): deadlines and
 * cancellation with the stage they hit, the embedding cache, timings, the row bound. The worker-thread behaviour is
 * covered in test/integration/worker.test.ts.
 */
const IMAGE = 'shapes_400x300.jpg';
/** A request that keeps the batch busy: 16 beams × 60 tokens (the tiny decoder reads 64 positions). */
const WIDE: CaptionItem['options'] = { maxNewTokens: 60, minNewTokens: 60, numBeams: 16 };
const LONG: CaptionItem['options'] = { maxNewTokens: 60, minNewTokens: 60 };

function sequenceOf(result: ItemResult): number[] {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value.sequence;
}

async function load(dir: string, options: Partial<PipelineOptions> = {}): Promise<BlipPipeline> {
  const pipeline = await BlipPipeline.load(dir, { imageLimits: DEFAULT_IMAGE_LIMITS, ...options });
  // Warm up (sharp and the sessions), so timings below are about the engine.
  const image = readImage('gray_33x33.png');
  const once = { maxNewTokens: 1 };
  if (pipeline.manifest.task === 'vqa') await pipeline.submit('answer', { image, question: 'warm up?', options: once });
  else await pipeline.submit('caption', { image, options: once });
  return pipeline;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('serving engine', () => {
  const variants = useFixtureVariantDirs();

  it('a request past its deadline leaves from the queue or mid-decode; the others get their normal results', async () => {
    const pipeline = await load(variants.caption, { maxRows: 64 });
    try {
      const runners = [0, 1, 2].map(() => ({ image: readImage(IMAGE), options: WIDE }));
      const alone = (await pipeline.caption(runners.slice(0, 1))).map(sequenceOf);
      // How long the four take together, so that the victim's deadline falls in the middle of their decoding. Timed on
      // the second of two runs: the first also pays one-off costs (buffers first touched, the vision arena growing)
      // and can take several times longer, which would put the deadline after the victim's end.
      const together = () => pipeline.caption([WIDE, WIDE, WIDE, LONG].map((options) => ({ image: readImage(IMAGE), options })));
      await together();
      const started = Date.now();
      await together();
      const batchMs = Date.now() - started;
      const outcomes = await expireMidDecode(async (fraction) => {
        const start = Date.now();
        const pending = runners.map((item) => pipeline.submit('caption', item));
        const victim = await pipeline.submit('caption', { image: readImage(IMAGE), options: LONG }, { deadline: start + batchMs * fraction });
        if (!victim.ok) expect(victim.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'deadline' } });
        // Mid-decode, its row leaves at once; the runners go on (or have just finished), untouched.
        if (!victim.ok && victim.error.details?.stage === 'decode') expect(pipeline.stats().running).toBeLessThanOrEqual(3);
        for (const result of await Promise.all(pending)) expect(sequenceOf(result)).toEqual(alone[0]);
        return victim;
      });
      expect(outcomes.at(-1), `outcome per attempt: ${outcomes.join(', ')}`).toBe('decode');

      // The batch is full (64 rows): a newcomer waits in the queue, and its deadline passes there.
      const full = [0, 1, 2, 3].map(() => pipeline.submit('caption', { image: readImage(IMAGE), options: WIDE }));
      const queued = pipeline.submit('caption', { image: readImage(IMAGE), options: { maxNewTokens: 2 } }, { deadline: Date.now() + 20 });
      expect(await queued).toMatchObject({ ok: false, error: { code: 'DEADLINE_EXCEEDED', details: { stage: 'queue' } } });
      for (const result of await Promise.all(full)) expect(sequenceOf(result)).toEqual(alone[0]);
      // An expired deadline never reaches the encoders.
      expect(await pipeline.submit('caption', { image: readImage(IMAGE) }, { deadline: Date.now() - 1 })).toMatchObject({ error: { code: 'DEADLINE_EXCEEDED' } });
    } finally {
      await pipeline.release();
    }
  });

  it('a cancelled request leaves its batch at the next step', async () => {
    const pipeline = await load(variants.caption, { maxRows: 64 });
    try {
      const [alone] = (await pipeline.caption([{ image: readImage(IMAGE), options: WIDE }])).map(sequenceOf);
      const pending = [0, 1, 2].map(() => pipeline.submit('caption', { image: readImage(IMAGE), options: WIDE }));
      const controller = new AbortController();
      const victim = pipeline.submit('caption', { image: readImage(IMAGE), options: LONG }, { signal: controller.signal });
      await until(() => pipeline.stats().running === 4, 'the victim to run');
      controller.abort();
      expect(await victim).toMatchObject({ ok: false, error: { code: 'CANCELLED', details: { reason: 'cancelled', stage: 'decode' } } });
      expect(pipeline.stats().running).toBe(3);
      await until(() => pipeline.stats().rows === 48, 'the victim row to leave');
      for (const result of await Promise.all(pending)) expect(sequenceOf(result)).toEqual(alone);
      // Aborted before it is submitted: never queued.
      expect(await pipeline.submit('caption', { image: readImage(IMAGE) }, { signal: AbortSignal.abort() })).toMatchObject({
        error: { details: { reason: 'cancelled', stage: 'queue' } },
      });
    } finally {
      await pipeline.release();
    }
  });

  it('runs the vision encoder once per image: a second question hits the cache; small caches evict by bytes', async () => {
    const pipeline = await load(variants.vqa);
    const uncached = await load(variants.vqa, { embeddingCacheBytes: 0 });
    try {
      const [first] = await pipeline.answer([{ image: readImage(IMAGE), question: 'what color is the sky?' }]);
      const [second] = await pipeline.answer([{ image: readImage(IMAGE), question: 'How many dogs are in the picture?' }]);
      expect(first).toMatchObject({ ok: true, value: { cacheHit: false } });
      expect(second).toMatchObject({ ok: true, value: { cacheHit: true } });
      const [reference] = await uncached.answer([{ image: readImage(IMAGE), question: 'How many dogs are in the picture?' }]);
      expect(sequenceOf(second)).toEqual(sequenceOf(reference));
      // The warm-up image and this one: 2 misses; 1 hit.
      expect(pipeline.stats().cache).toMatchObject({ hits: 1, misses: 2, evictions: 0, entries: 2 });
      // Two questions about one image admitted together: one vision pass.
      const pair = await pipeline.answer(['what color is the sky?', 'is there a Café near the tower?'].map((question) => ({ image: readImage('rgba_50x90.png'), question })));
      expect(pair.map((r) => r.ok && r.value.cacheHit)).toEqual([false, true]);
      expect(uncached.stats().cache).toMatchObject({ hits: 0, entries: 0, bytes: 0 });
    } finally {
      await pipeline.release();
      await uncached.release();
    }

    // The tiny model's embedding is 17 × 32 floats = 2176 bytes: a 3000-byte cache holds one.
    const small = await load(variants.vqa, { embeddingCacheBytes: 3000 });
    try {
      const ask = async (image: string) => (await small.answer([{ image: readImage(image), question: 'what color is the sky?' }]))[0];
      expect(await ask(IMAGE_NAMES[0])).toMatchObject({ value: { cacheHit: false } });
      expect(await ask(IMAGE_NAMES[0])).toMatchObject({ value: { cacheHit: true } });
      expect(await ask(IMAGE_NAMES[1])).toMatchObject({ value: { cacheHit: false } });
      expect(await ask(IMAGE_NAMES[0])).toMatchObject({ value: { cacheHit: false } });
      expect(small.stats().cache).toEqual({ hits: 1, misses: 4, evictions: 3, bytes: 2176, entries: 1, maxBytes: 3000 });
    } finally {
      await small.release();
    }
  });

  it('captions of one image admitted while it is being captioned share its context', async () => {
    const pipeline = await load(variants.caption);
    try {
      const [alone] = (await pipeline.caption([{ image: readImage(IMAGE_NAMES[2]), options: LONG }])).map(sequenceOf);
      const results = await pipeline.caption([0, 1, 2].map(() => ({ image: readImage(IMAGE_NAMES[2]), options: LONG })));
      expect(results.map(sequenceOf)).toEqual([alone, alone, alone]);
      expect(results.map((r) => r.ok && r.value.cacheHit)).toEqual([true, true, true]);
    } finally {
      await pipeline.release();
    }
  });

  it('bounds the running batch in rows, beams included; a request wider than the bound runs alone', async () => {
    const pipeline = await load(variants.caption, { maxRows: 4 });
    try {
      const items = IMAGE_NAMES.map((name, i) => ({ image: readImage(name), options: { maxNewTokens: 10, numBeams: 1 + (i % 3) } }));
      const results = await pipeline.caption([...items, { image: readImage(IMAGE), options: { maxNewTokens: 3, numBeams: 6 } }]);
      const batchSizes = results.map((r) => (r.ok ? r.value.batchSize : -1));
      expect(batchSizes.slice(0, -1).every((size) => size >= 1 && size <= 4)).toBe(true);
      expect(batchSizes.at(-1)).toBe(6);
      // Each equals its run alone.
      for (const [i, item] of items.entries()) expect(sequenceOf(results[i])).toEqual(sequenceOf((await pipeline.caption([item]))[0]));
    } finally {
      await pipeline.release();
    }
  });

  it('reports queue, preprocessing, encoder and decoder time; a bad item fails alone; an item of the other kind fails alone', async () => {
    const pipeline = await load(variants.caption, { maxRows: 16 });
    try {
      const [wide, late] = await Promise.all([
        pipeline.submit('caption', { image: readImage(IMAGE), options: WIDE }),
        pipeline.submit('caption', { image: readImage(IMAGE_NAMES[0]), options: { maxNewTokens: 5 } }),
      ]);
      // `late` waited for the 16 rows of `wide` to leave.
      expect(late.ok && wide.ok && late.value.timings.queueMs >= wide.value.timings.decodeMs * 0.9).toBe(true);
      for (const result of [wide, late]) {
        if (!result.ok) throw new Error(result.error.message);
        const { queueMs, preprocessMs, encodeMs, decodeMs } = result.value.timings;
        expect([queueMs, preprocessMs, encodeMs, decodeMs].every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
      }
      const mixed = await pipeline.caption([{ image: readImage(IMAGE) }, { image: new TextEncoder().encode('not an image') }]);
      expect(mixed[0].ok).toBe(true);
      expect(mixed[1]).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_IMAGE_FORMAT' } });
      // The task is the gateway's check (WRONG_TASK there); an item of the other kind reaching the engine is a bug
      // of its caller, and it fails alone as an internal error rather than producing an answer of the wrong kind.
      expect(await pipeline.submit('answer', { image: readImage(IMAGE), question: 'why?' })).toMatchObject({ ok: false, error: { code: 'INFERENCE_FAILED' } });
      await expect(BlipPipeline.load(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxRows: 0 })).rejects.toThrow(
        'Expected a positive integer for maxRows but received 0',
      );
    } finally {
      await pipeline.release();
    }
  });

  it('sessions whose idle threads do not spin (INTRA_OP_SPINNING=false) load and give the same tokens', async () => {
    const results = [];
    for (const allowSpinning of [true, false]) {
      const pipeline = await load(variants.caption, { allowSpinning });
      try {
        results.push((await pipeline.caption([{ image: readImage(IMAGE), options: { maxNewTokens: 12 } }])).map(sequenceOf)[0]);
      } finally {
        await pipeline.release();
      }
    }
    expect(results[0].length).toBeGreaterThan(1);
    expect(results[1]).toEqual(results[0]);
  });
  it('runs the vision encoder in chunks of maxVisionBatch within one encoder pass, with the tokens of one big batch', async () => {
    const items = IMAGE_NAMES.map((name) => ({ image: readImage(name), options: { maxNewTokens: 5 } }));
    const chunked = await load(variants.caption, { maxVisionBatch: 2, embeddingCacheBytes: 0 });
    const whole = await load(variants.caption, { maxVisionBatch: 8, embeddingCacheBytes: 0 });
    try {
      const a = await chunked.caption(items);
      const b = await whole.caption(items);
      expect(a.map(sequenceOf)).toEqual(b.map(sequenceOf));
      // One encoder pass for the five images (they arrived together), whatever the chunking.
      for (const result of a) expect(result.ok && result.value.encoderBatch).toBe(IMAGE_NAMES.length);
      await expect(BlipPipeline.load(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, maxVisionBatch: 0 })).rejects.toThrow('Expected a positive integer for maxVisionBatch but received 0');
    } finally {
      await Promise.all([chunked.release(), whole.release()]);
    }
  });
});
