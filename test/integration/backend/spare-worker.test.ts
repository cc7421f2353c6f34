import { afterEach, describe, expect, it } from 'vitest';
import type { BackendItem } from '../../../src/backend/model-backend.ts';
import { resultOf } from '../../../src/backend/event-stream.ts';
import { WorkerBackend } from '../../../src/backend/worker/worker-backend.ts';
import type { SpareWorker } from '../../../src/backend/worker/spare-worker.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { ServiceError } from '../../../src/errors.ts';
import { useFixtureVariantDirs } from '../../helpers/converted-variant.ts';
import { IMAGE_NAMES, readImage } from '../../helpers/fixtures.ts';

const options = { imageLimits: DEFAULT_IMAGE_LIMITS };
const item = (): BackendItem => ({ kind: 'caption', item: { image: readImage(IMAGE_NAMES[1]), options: { maxNewTokens: 12 } } });

describe('spare inference worker', () => {
  const variants = useFixtureVariantDirs();
  let spares: SpareWorker | undefined;
  const backends: WorkerBackend[] = [];
  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.close()));
    await spares?.close();
    spares = undefined;
  });

  it('a load takes the waiting spare (the same thread), which captions exactly as a fresh worker; the next spare starts when the load has finished', async () => {
    spares = WorkerBackend.spareWorkers();
    spares.prime();
    const primed = spares.waitingThreadId();
    expect(primed).toEqual(expect.any(Number));

    const loading = WorkerBackend.start(variants.caption, options, undefined, spares);
    // Taken, and no replacement importing beside the load.
    expect(spares.waitingThreadId()).toBeUndefined();
    const viaSpare = await loading;
    backends.push(viaSpare);
    expect(viaSpare.threadId).toBe(primed);
    const next = spares.waitingThreadId();
    expect(next).toEqual(expect.any(Number));
    expect(next).not.toBe(primed);

    const fresh = await WorkerBackend.start(variants.caption, options);
    backends.push(fresh);
    expect(fresh.threadId).not.toBe(next);
    const [a, b] = await Promise.all([resultOf(viaSpare.submit(item())), resultOf(fresh.submit(item()))]);
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) throw new Error('caption failed');
    expect(a.value.sequence).toEqual(b.value.sequence);
    expect(a.value.text.length).toBeGreaterThan(0);

    // A second load takes the spare started by the first.
    const second = await WorkerBackend.start(variants.vqa, options, undefined, spares);
    backends.push(second);
    expect(second.threadId).toBe(next);
  });

  it('ready() and isReady() say when the waiting spare has imported its modules; a load from a ready spare works, and a closed keeper has none', async () => {
    spares = WorkerBackend.spareWorkers();
    expect(await spares.ready()).toBe(false);
    expect(spares.isReady()).toBe(false);
    spares.prime();
    // Still importing: isReady() does not wait.
    expect(spares.isReady()).toBe(false);
    const primed = spares.waitingThreadId();
    expect(await spares.ready()).toBe(true);
    expect(spares.isReady()).toBe(true);
    const loading = WorkerBackend.start(variants.caption, options, undefined, spares);
    expect(spares.isReady()).toBe(false);
    const backend = await loading;
    backends.push(backend);
    expect(backend.threadId).toBe(primed);
    expect((await resultOf(backend.submit(item()))).ok).toBe(true);
    // The replacement started after the load becomes ready in turn; after close there is none.
    expect(await spares.ready()).toBe(true);
    expect(spares.isReady()).toBe(true);
    await spares.close();
    expect(await spares.ready()).toBe(false);
    expect(spares.isReady()).toBe(false);
  });

  it('a load that fails in a spare fails exactly as in a fresh worker, and the next load still works', async () => {
    spares = WorkerBackend.spareWorkers();
    spares.prime();
    const failure = (promise: Promise<WorkerBackend>) => promise.then(() => undefined, (error: unknown) => error);
    const failed = await failure(WorkerBackend.start('/nonexistent/variant', options, undefined, spares));
    const fresh = await failure(WorkerBackend.start('/nonexistent/variant', options));
    expect(failed).toBeInstanceOf(ServiceError);
    expect((failed as ServiceError).code).toBe('INVALID_VARIANT');
    expect({ code: (failed as ServiceError).code, message: (failed as ServiceError).message }).toEqual({ code: (fresh as ServiceError).code, message: (fresh as ServiceError).message });
    const backend = await WorkerBackend.start(variants.caption, options, undefined, spares);
    backends.push(backend);
    expect((await resultOf(backend.submit(item()))).ok).toBe(true);
  });

  it('close stops the waiting spare through its own exit, even while it is still importing, and starts no other', async () => {
    spares = WorkerBackend.spareWorkers();
    spares.prime();
    // At once: the spare is still loading its modules; the stop message waits for them and it exits by itself.
    expect(await spares.close()).toBe('exited');
    expect(spares.waitingThreadId()).toBeUndefined();
    spares.prime();
    expect(spares.waitingThreadId()).toBeUndefined();
    // Without a spare a load starts its own worker.
    const backend = await WorkerBackend.start(variants.caption, options, undefined, spares);
    backends.push(backend);
    expect((await resultOf(backend.submit(item()))).ok).toBe(true);
  });
});
