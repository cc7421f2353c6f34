import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blipWorkingMemory } from '../../../src/models/blip/working-memory.ts';
import { DEFAULT_BATCHING } from '../../../src/registry/variant-config.ts';
import { OFFICIAL_VARIANT, SMALL_QUEUE_VARIANT, base64Image, startTestServer, type TestServer } from './helpers.ts';

const BUDGET = 100 * 1024 * 1024;
const MODELS = '{ models { name installed bytes memory { weightBytes workingBytes totalBytes } } }';

/**
 * `Model.memory` over the real server on port 0: weights plus the family's working-memory bound, and a budget
 * (MODEL_MEMORY_BUDGET_BYTES) that holds the weights of a tiny variant but not its working memory refuses to load it.
 */
describe('Model.memory and the memory budget over HTTP', () => {
  let t: TestServer;
  let models: Array<{ name: string; installed: boolean; bytes: number | null; memory: { weightBytes: number; workingBytes: number; totalBytes: number } | null }>;

  beforeAll(async () => {
    t = await startTestServer({ extraVariants: ['small-queue', 'official'], env: { MODEL_MEMORY_BUDGET_BYTES: String(BUDGET) } });
    const response = await t.postGraphQL({ query: MODELS });
    expect(response.body.errors).toBeUndefined();
    models = response.body.data.models;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports weights (the bytes on disk) and the working bound computed from the manifest and the variant settings', async () => {
    const demo = models.find((m) => m.name === 'blip-demo')!;
    const manifest = JSON.parse(await readFile(join(t.registryDir, 'blip-demo', 'manifest.json'), 'utf8'));
    const variant = JSON.parse(await readFile(join(t.registryDir, 'blip-demo', 'variant.json'), 'utf8'));
    const batching = { ...DEFAULT_BATCHING, ...variant.batching };
    const working = blipWorkingMemory(manifest, { maxRows: batching.maxRows, maxGroupItems: batching.maxBatchSize }).totalBytes;
    expect(demo.memory).toEqual({ weightBytes: demo.bytes, workingBytes: working, totalBytes: demo.bytes! + working });
    for (const model of models) {
      if (model.installed) expect(model.memory!.totalBytes).toBe(model.memory!.weightBytes + model.memory!.workingBytes);
      else expect(model.memory).toBeNull();
    }
    expect(models.find((m) => m.name === OFFICIAL_VARIANT)!.memory).toBeNull();
  });

  it('refuses a variant whose weights fit the budget but whose weights + working memory do not, with both parts in extensions', async () => {
    const small = models.find((m) => m.name === SMALL_QUEUE_VARIANT)!.memory!;
    expect(small.weightBytes).toBeLessThan(BUDGET);
    expect(small.totalBytes).toBeGreaterThan(BUDGET);
    const response = await t.postGraphQL({
      query: 'mutation ($input: CaptionInput!) { caption(input: $input) { caption } }',
      variables: { input: { model: SMALL_QUEUE_VARIANT, image: { base64: base64Image('gradient_64x48.png') } } },
    });
    expect(response.body.data).toBeNull();
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors[0].extensions).toMatchObject({
      code: 'MEMORY_BUDGET_EXCEEDED',
      model: SMALL_QUEUE_VARIANT,
      bytes: small.totalBytes,
      weightBytes: small.weightBytes,
      workingBytes: small.workingBytes,
      budgetBytes: BUDGET,
    });
    const after = await t.postGraphQL({ query: `{ model(name: "${SMALL_QUEUE_VARIANT}") { state } }` });
    expect(after.body.data.model.state).toBe('UNLOADED');
  });
});
