import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createInferenceService, type BatchListeners } from '../../../src/batching/inference-service.ts';
import type { InferenceService } from '../../../src/batching/types.ts';
import type { GenerationOptions } from '../../../src/generation/options.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { createModelRegistry, type FileModelRegistry } from '../../../src/registry/model-registry.ts';
import { IMAGE_NAMES, readImage } from '../../helpers/fixtures.ts';
import { createTempRegistry, embeddedVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { startWorkerBackend } from '../../helpers/worker-backend.ts';

/**
 * The cross-request batcher, DataLoader style: which requests formed which batch, on real workers and the tiny models.
 */
describe('inference service', () => {
  let temp: TempRegistry;
  let registry: FileModelRegistry;
  let batches: Array<{ variant: string; size: number }>;
  const onBatch: BatchListeners['onBatch'] = (event) => batches.push({ variant: event.variant, size: event.size });

  beforeAll(async () => {
    temp = await createTempRegistry();
    await temp.writeVariant('cap', embeddedVariant('cap', 'caption', { default: true, batching: { maxBatchSize: 4, maxQueueDelayMs: 10_000, maxQueueSize: 6 } }));
    await temp.writeVariant('cap-b', embeddedVariant('cap-b', 'caption', { batching: { maxBatchSize: 8, maxQueueDelayMs: 1 } }));
    await temp.writeVariant('vqa', embeddedVariant('vqa', 'vqa', { default: true }));
    await temp.writeVariant('cap-solo', embeddedVariant('cap-solo', 'caption', { batching: { maxBatchSize: 1, maxRows: 1 } }));
    registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS }, startBackend: startWorkerBackend });
    await registry.prepareEmbedded();
    // Load the workers once so that batch shapes below do not depend on load time.
    await Promise.all(['cap', 'cap-b', 'vqa', 'cap-solo'].map((name) => registry.acquire(name)));
  });
  afterAll(async () => {
    await registry?.close();
    await temp?.cleanup();
  });
  afterEach(() => {
    batches = [];
  });
  batches = [];

  const image = (k: number) => readImage(IMAGE_NAMES[k % IMAGE_NAMES.length]);

  interface Request {
    model?: string;
    image: Uint8Array;
    prompt?: string;
    question?: string;
    options?: GenerationOptions;
    signal?: AbortSignal;
    timeoutMs?: number;
  }
  // The gateway resolves the variant before the service sees the item (tested in test/unit/gateway).
  const captionVia = (service: InferenceService, r: Request) =>
    service.run({ variant: registry.resolve(r.model, 'caption'), kind: 'caption', image: r.image, text: r.prompt, options: r.options, signal: r.signal, timeoutMs: r.timeoutMs });
  const answerVia = (service: InferenceService, r: Request) =>
    service.run({ variant: registry.resolve(r.model, 'vqa'), kind: 'answer', image: r.image, text: r.question, options: r.options, signal: r.signal, timeoutMs: r.timeoutMs });

  it('a lone request on an idle model is dispatched at once, not after the 10 s queue delay', async () => {
    const service = createInferenceService(registry, { onBatch });
    const result = await captionVia(service, { image: image(0), options: { maxNewTokens: 5 } });
    expect(result).toMatchObject({ variant: 'cap', batchSize: 1 });
    expect(batches).toEqual([{ variant: 'cap', size: 1 }]);
  });

  it('concurrent requests share passes up to maxBatchSize; variants never share a batch', async () => {
    const service = createInferenceService(registry, { onBatch });
    const results = await Promise.all([
      ...[0, 1, 2, 3, 4, 5].map((k) => captionVia(service, { image: image(k), prompt: `a picture of ${k}`, options: { maxNewTokens: 4 } })),
      ...[0, 1, 2].map((k) => captionVia(service, { model: 'cap-b', image: image(k), options: { maxNewTokens: 4 } })),
    ]);
    expect(results.map((r) => r.variant)).toEqual(['cap', 'cap', 'cap', 'cap', 'cap', 'cap', 'cap-b', 'cap-b', 'cap-b']);
    expect(batches.sort((a, b) => a.variant.localeCompare(b.variant) || b.size - a.size)).toEqual([
      { variant: 'cap', size: 4 },
      { variant: 'cap', size: 2 },
      { variant: 'cap-b', size: 3 },
    ]);
  });

  it('batched results equal the same requests sent one at a time', async () => {
    const service = createInferenceService(registry, { onBatch });
    // Image bytes are handed over to the worker (transferred), so every request gets its own copy.
    const request = (k: number) => ({ image: image(k), prompt: k % 2 ? 'a picture of' : undefined, options: { maxNewTokens: 6, numBeams: 1 + (k % 3) } });
    const together = await Promise.all([0, 1, 2, 3].map((k) => captionVia(service, request(k))));
    const alone = [];
    for (const k of [0, 1, 2, 3]) alone.push(await captionVia(service, request(k)));
    expect(together.map((r) => r.sequence)).toEqual(alone.map((r) => r.sequence));
    expect(batches[0]).toEqual({ variant: 'cap', size: 4 });
  });

  it('with maxBatchSize 1 and maxRows 1, concurrent requests never share a decode step', async () => {
    const service = createInferenceService(registry, { onBatch });
    const results = await Promise.all([0, 1, 2].map((k) => captionVia(service, { model: 'cap-solo', image: image(k), options: { maxNewTokens: 6 } })));
    expect(results.map((r) => r.batchSize)).toEqual([1, 1, 1]);
    expect(batches).toEqual([1, 1, 1].map((size) => ({ variant: 'cap-solo', size })));
  });

  it('identical requests in flight are computed once', async () => {
    const service = createInferenceService(registry, { onBatch });
    const [a, b] = await Promise.all([0, 0].map(() => captionVia(service, { image: image(2), options: { maxNewTokens: 5 } })));
    expect(a.sequence).toEqual(b.sequence);
    expect(batches).toEqual([{ variant: 'cap', size: 1 }]);
  });

  it('refuses requests beyond the queue bound with OVERLOADED and a retry hint; accepted ones complete', async () => {
    const service = createInferenceService(registry, { onBatch });
    const settled = await Promise.allSettled([0, 1, 2, 3, 4, 5, 6, 7].map((k) => captionVia(service, { image: image(k), prompt: `photo ${k}`, options: { maxNewTokens: 3 } })));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    for (const s of settled.slice(6)) {
      expect(s).toMatchObject({ reason: { code: 'OVERLOADED', details: { retryAfterMs: expect.any(Number), queueSize: 6 } } });
    }
  });

  it('a request whose deadline passes while it waits fails with DEADLINE_EXCEEDED; the others complete', async () => {
    const service = createInferenceService(registry, { onBatch });
    const slow = captionVia(service, { model: 'cap-b', image: image(4), options: { maxNewTokens: 12, numBeams: 8 } });
    const late = captionVia(service, { model: 'cap-b', image: image(1), options: { maxNewTokens: 5 }, timeoutMs: 1 });
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    await expect(slow).resolves.toMatchObject({ variant: 'cap-b' });
  });

  it('a client that goes away gets CANCELLED; a client waiting for the same computation still gets its result', async () => {
    const service = createInferenceService(registry, { onBatch });
    const leaving = new AbortController();
    const request = () => ({ model: 'cap-b', image: image(3), options: { maxNewTokens: 12, numBeams: 4 } });
    const first = captionVia(service, { ...request(), signal: leaving.signal });
    const second = captionVia(service, { ...request(), signal: new AbortController().signal });
    leaving.abort();
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(second).resolves.toMatchObject({ variant: 'cap-b' });
    expect(batches).toEqual([{ variant: 'cap-b', size: 1 }]);
    const alone = new AbortController();
    const cancelled = captionVia(service, { ...request(), signal: alone.signal });
    alone.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('refuses a bad timeout before queueing', async () => {
    const service = createInferenceService(registry, { onBatch });
    await expect(answerVia(service, { image: image(0), question: 'what is it?', timeoutMs: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(batches).toEqual([]);
  });
});
