import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { FAMILIES } from '../../../src/models/families.ts';
import { blipWorkingMemory } from '../../../src/models/blip/working-memory.ts';
import { createModelRegistry, type FileModelRegistry, type RegistryEvent } from '../../../src/registry/model-registry.ts';
import type { VariantInfo } from '../../../src/registry/types.ts';
import { createTempRegistry, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { startWorkerBackend } from '../../helpers/worker-backend.ts';

const PIPELINE = { imageLimits: DEFAULT_IMAGE_LIMITS, embeddingCacheBytes: 1 << 20 };

/**
 * The memory budget counts each variant as its weights plus its family's working-memory bound (real registry, real
 * workers, the tiny fixture models): a budget that weights alone would satisfy still evicts or refuses.
 */
describe('memory budget: weights + working memory', () => {
  let temp: TempRegistry;
  let wide: NonNullable<VariantInfo['memory']>;
  let narrow: NonNullable<VariantInfo['memory']>;
  let events: RegistryEvent[] = [];
  const registries: FileModelRegistry[] = [];

  const open = async (memoryBudgetBytes: number, pinned?: string[]) => {
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend, families: FAMILIES, onEvent: (e) => events.push(e), memoryBudgetBytes, pinned });
    registries.push(registry);
    return registry;
  };

  beforeAll(async () => {
    temp = await createTempRegistry();
    await temp.writeVariant('wide', officialVariant('wide', 'caption', { batching: { maxRows: 32 } }));
    await temp.writeVariant('narrow', officialVariant('narrow', 'caption', { batching: { maxRows: 16 } }));
    await temp.writeVariant('absent', officialVariant('absent', 'caption'));
    for (const name of ['wide', 'narrow']) await temp.install(name, 'caption');
    const probe = await open(Number.MAX_SAFE_INTEGER);
    wide = probe.find('wide')!.memory!;
    narrow = probe.find('narrow')!.memory!;
    expect(probe.find('absent')!.memory).toBeNull();
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((registry) => registry.close()));
    events = [];
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it("reports weights (the files' bytes) and the family's bound from the variant's own settings", async () => {
    const registry = await open(Number.MAX_SAFE_INTEGER);
    const manifest = JSON.parse(await readFile(join(temp.root, 'wide', 'manifest.json'), 'utf8'));
    expect(wide.weightBytes).toBe(registry.find('wide')!.bytes);
    expect(wide.workingBytes).toBe(blipWorkingMemory(manifest, { ...PIPELINE, maxRows: 32 }).totalBytes);
    expect(narrow.workingBytes).toBe(blipWorkingMemory(manifest, { ...PIPELINE, maxRows: 16 }).totalBytes);
    expect(wide.totalBytes).toBe(wide.weightBytes + wide.workingBytes);
    // Same files, 16 more rows: the difference is 16 rows' worth of working memory, and dwarfs the weights.
    expect(narrow.weightBytes).toBe(wide.weightBytes);
    expect(wide.workingBytes - narrow.workingBytes).toBe(blipWorkingMemory(manifest, { ...PIPELINE, maxRows: 16 }).parts.rows);
    expect(wide.workingBytes).toBeGreaterThan(wide.weightBytes);
  });

  it('counts working memory in the budget: a load that weights alone would fit evicts the idle variant', async () => {
    // Both weights fit easily; both totals do not.
    const budget = wide.totalBytes + narrow.totalBytes - 1;
    expect(wide.weightBytes + narrow.weightBytes).toBeLessThan(budget);
    const registry = await open(budget);
    await registry.acquire('narrow');
    expect(registry.memory()).toEqual({ budgetBytes: budget, usedBytes: narrow.totalBytes });
    await registry.acquire('wide');
    expect(events.filter((e) => e.type === 'unloaded')).toEqual([{ type: 'unloaded', variant: 'narrow', reason: 'evicted' }]);
    expect(registry.memory().usedBytes).toBe(wide.totalBytes);
  });

  it('refuses with MEMORY_BUDGET_EXCEEDED naming both parts when the other variant is pinned', async () => {
    const budget = wide.totalBytes + narrow.totalBytes - 1;
    const registry = await open(budget, ['narrow']);
    await registry.acquire('narrow');
    const refused = registry.acquire('wide');
    await expect(refused).rejects.toMatchObject({
      code: 'MEMORY_BUDGET_EXCEEDED',
      details: { model: 'wide', bytes: wide.totalBytes, weightBytes: wide.weightBytes, workingBytes: wide.workingBytes, budgetBytes: budget, usedBytes: narrow.totalBytes },
    });
    await expect(refused).rejects.toThrow(`${wide.weightBytes} of weights + ${wide.workingBytes} of working memory`);
    expect(registry.find('wide')?.state).toBe('unloaded');
    expect(registry.find('narrow')?.state).toBe('ready');
  });

  it('loads a variant whose weights plus working memory fit exactly', async () => {
    const registry = await open(narrow.totalBytes);
    await registry.acquire('narrow');
    expect(registry.find('narrow')?.state).toBe('ready');
    await expect(registry.acquire('wide')).rejects.toMatchObject({ code: 'MEMORY_BUDGET_EXCEEDED', details: { bytes: wide.totalBytes } });
  });
});
