import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { createModelRegistry, type FileModelRegistry, type RegistryEvent } from '../../../src/registry/model-registry.ts';
import { readImage } from '../../helpers/fixtures.ts';
import { garbleGraph } from '../../helpers/garble-graph.ts';
import { createTempRegistry, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { captionOn, startWorkerBackend } from '../../helpers/worker-backend.ts';

const PIPELINE = { imageLimits: DEFAULT_IMAGE_LIMITS };

/**
 * Run-time operations on real workers and the tiny fixture models: memory budget and eviction, pinning, leases (a
 * variant with requests in flight is never evicted or unloaded), unload, and rescanning the folder.
 */
describe('FileModelRegistry operations', () => {
  let temp: TempRegistry;
  let cost: number;
  let events: RegistryEvent[];
  const registries: FileModelRegistry[] = [];

  const open = async (memoryBudgetBytes?: number, pinned?: string[]) => {
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend, onEvent: (e) => events.push(e), memoryBudgetBytes, pinned });
    registries.push(registry);
    return registry;
  };
  const unloads = () => events.filter((e) => e.type === 'unloaded');

  beforeAll(async () => {
    temp = await createTempRegistry();
    for (const name of ['a', 'b', 'c']) {
      await temp.writeVariant(name, officialVariant(name, 'caption'));
      await temp.install(name, 'caption');
    }
    const probe = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    cost = probe.find('a')!.bytes!;
    expect(probe.find('b')!.bytes).toBe(cost);
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((registry) => registry.close()));
    events = [];
  });
  afterAll(async () => {
    await temp?.cleanup();
  });
  events = [];

  it('counts a variant as its manifest\'s file bytes and evicts the least recently used to stay in the budget', async () => {
    const registry = await open(2 * cost);
    await registry.acquire('a');
    await registry.acquire('b');
    expect(registry.memory()).toEqual({ budgetBytes: 2 * cost, usedBytes: 2 * cost });
    await registry.acquire('a'); // a is now more recent than b
    await registry.acquire('c');
    expect(unloads()).toEqual([{ type: 'unloaded', variant: 'b', reason: 'evicted' }]);
    expect(registry.list().map((v) => [v.name, v.state])).toEqual([
      ['a', 'ready'],
      ['b', 'unloaded'],
      ['c', 'ready'],
    ]);
    expect(registry.memory().usedBytes).toBe(2 * cost);
  });

  it('never evicts a pinned variant', async () => {
    const registry = await open(2 * cost, ['a']);
    expect(registry.find('a')?.pinned).toBe(true);
    await registry.acquire('a');
    await registry.acquire('b');
    await registry.acquire('c'); // a is the least recently used, but pinned
    expect(unloads()).toEqual([{ type: 'unloaded', variant: 'b', reason: 'evicted' }]);
    registry.pin('c', true);
    await expect(registry.acquire('b')).rejects.toMatchObject({ code: 'MEMORY_BUDGET_EXCEEDED', details: { model: 'b', bytes: cost, budgetBytes: 2 * cost } });
    expect(registry.find('b')?.state).toBe('unloaded');
  });

  it('never evicts a variant with requests in flight; once they finish, it can go', async () => {
    const registry = await open(cost);
    const lease = await registry.lease('a');
    expect(registry.inFlight('a')).toBe(1);
    await expect(registry.acquire('b')).rejects.toMatchObject({ code: 'MEMORY_BUDGET_EXCEEDED' });
    // The leased worker kept working.
    const [result] = await captionOn(lease.backend, [{ image: readImage('gray_33x33.png'), options: { maxNewTokens: 2 } }]);
    expect(result.ok).toBe(true);
    expect(registry.find('a')?.state).toBe('ready');
    lease.release();
    lease.release(); // idempotent
    expect(registry.inFlight('a')).toBe(0);
    await registry.acquire('b');
    expect(unloads()).toEqual([{ type: 'unloaded', variant: 'a', reason: 'evicted' }]);
  });

  it('refuses a variant larger than the whole budget without failing it', async () => {
    const registry = await open(cost - 1);
    await expect(registry.acquire('a')).rejects.toMatchObject({ code: 'MEMORY_BUDGET_EXCEEDED' });
    expect(registry.find('a')?.state).toBe('unloaded');
  });

  it('unload: refused with MODEL_IN_USE while requests run or when pinned, else stops the worker', async () => {
    const registry = await open();
    const lease = await registry.lease('a');
    await expect(registry.unload('a')).rejects.toMatchObject({ code: 'MODEL_IN_USE', details: { model: 'a', inFlight: 1 } });
    lease.release();
    registry.pin('a', true);
    await expect(registry.unload('a')).rejects.toMatchObject({ code: 'MODEL_IN_USE', message: 'Model "a" is pinned; unpin it first' });
    registry.pin('a', false);
    expect((await registry.unload('a')).state).toBe('unloaded');
    expect(unloads()).toEqual([{ type: 'unloaded', variant: 'a', reason: 'admin' }]);
    expect((await registry.load('a')).state).toBe('ready');
  });

  it('rescan: adds new variants, takes changed ones, keeps the old version when the new one fails to load', async () => {
    const registry = await open();
    const oldWorker = await registry.acquire('a');
    await registry.acquire('b');
    expect(await registry.rescan()).toEqual({ added: [], removed: [], updated: [], unchanged: ['a', 'b', 'c'], failed: [] });

    // A new variant folder, a changed variant.json for b (loaded: reloaded and swapped), and an a whose new version
    // cannot load (same sizes, garbage graph).
    await temp.writeVariant('d', officialVariant('d', 'caption'));
    await temp.writeVariant('b', officialVariant('b', 'caption', { description: 'b, second edition' }));
    await temp.writeVariant('a', officialVariant('a', 'caption', { description: 'a, broken edition' }));
    const restore = await garbleGraph(join(temp.root, 'a'), 'vision_model.onnx');
    try {
      const result = await registry.rescan();
      expect(result).toMatchObject({ added: ['d'], removed: [], updated: ['b'], unchanged: ['c'] });
      expect(result.failed).toEqual([{ name: 'a', message: expect.stringMatching(/^Cannot load model "a": .*; the old version keeps serving$/) }]);
      expect(registry.find('b')).toMatchObject({ description: 'b, second edition', state: 'ready' });
      expect(registry.find('a')).toMatchObject({ description: 'a for tests', state: 'ready' });
      expect(await registry.acquire('a')).toBe(oldWorker);
      const [caption] = await captionOn(oldWorker, [{ image: readImage('gray_33x33.png'), options: { maxNewTokens: 2 } }]);
      expect(caption.ok).toBe(true);
      expect(registry.find('d')).toMatchObject({ installed: false, state: 'unloaded' });
    } finally {
      await restore();
      await temp.writeVariant('a', officialVariant('a', 'caption'));
      await temp.writeVariant('b', officialVariant('b', 'caption'));
    }
  });

  it('rescan: an invalid registry changes nothing', async () => {
    const registry = await open();
    await temp.writeVariant('e', '{ not json');
    try {
      await expect(registry.rescan()).rejects.toMatchObject({ code: 'INVALID_VARIANT' });
      expect(registry.find('e')).toBeUndefined();
    } finally {
      await temp.writeVariant('e', officialVariant('e', 'caption'));
    }
    expect((await registry.rescan()).added).toEqual(expect.arrayContaining(['e']));
  });
});
