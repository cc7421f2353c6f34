import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlipConfig } from '../../../../../src/models/blip/checkpoint/blip-config.ts';
import { parseBlipConfig, readBlipConfig } from '../../../../../src/models/blip/checkpoint/config-reader.ts';
import { createRandomWeights } from '../../../../../src/models/blip/checkpoint/random-weights.ts';
import { blipWeightSpec, validateWeights } from '../../../../../src/models/blip/checkpoint/weight-spec.ts';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');

async function officialConfig(name: string): Promise<BlipConfig> {
  const file = join(FIXTURES, 'configs', `${name}.json`);
  return parseBlipConfig(JSON.parse(await readFile(file, 'utf8')), file);
}

/** Bitwise equality (vitest's deep equality is slow on million-element arrays). */
function same(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function statistics(values: Float32Array): { mean: number; std: number; maxAbs: number } {
  let sum = 0;
  let squares = 0;
  let maxAbs = 0;
  for (const value of values) {
    sum += value;
    squares += value * value;
    maxAbs = Math.max(maxAbs, Math.abs(value));
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(squares / values.length - mean * mean), maxAbs };
}

describe('createRandomWeights', () => {
  it('provides every tensor the spec reads, as F32, and passes validation without warnings', async () => {
    for (const task of ['caption', 'vqa'] as const) {
      const config = await readBlipConfig(join(FIXTURES, 'blip-tiny', task));
      const weights = createRandomWeights(config, 1);
      const expected = blipWeightSpec(config)
        .entries.filter((entry) => entry.presence !== 'ignored')
        .map((entry) => ({ name: entry.name, dtype: 'F32', shape: entry.shape }));
      expect(weights.list()).toEqual(expected);
      expect(validateWeights(weights, config)).toEqual({ warnings: [] });
      expect(weights.file).toBe('random(seed=1)');
      for (const info of weights.list()) expect(await weights.readFloat32(info.name)).toHaveLength(info.shape.reduce((a, b) => a * b, 1));
    }
  });

  it('depends only on (seed, name): not on read order or instance', async () => {
    const config = await officialConfig('blip-vqa-base');
    const names = ['vision_model.encoder.layers.3.mlp.fc1.weight', 'text_encoder.encoder.layer.0.attention.self.query.weight'];
    const first = createRandomWeights(config, 42);
    const a0 = await first.readFloat32(names[0]);
    const a1 = await first.readFloat32(names[1]);
    const second = createRandomWeights(config, 42);
    const b1 = await second.readFloat32(names[1]);
    const b0 = await second.readFloat32(names[0]);
    expect(same(b0, a0)).toBe(true);
    expect(same(b1, a1)).toBe(true);
    expect(same(await first.readFloat32(names[0]), a0)).toBe(true);
    // Another seed or another name gives other values.
    const other = await createRandomWeights(config, 43).readFloat32(names[0]);
    expect(same(other, a0)).toBe(false);
    expect(same(a1, a0.subarray(0, a1.length))).toBe(false);
  });

  it('initialises like transformers: N(0, 0.02) matrices, LayerNorm 1/0, zero biases', async () => {
    const config = await officialConfig('blip-image-captioning-base');
    const weights = createRandomWeights(config, 7);
    const matrix = statistics(await weights.readFloat32('text_decoder.cls.predictions.decoder.weight'));
    expect(Math.abs(matrix.mean)).toBeLessThan(1e-4);
    expect(matrix.std).toBeGreaterThan(0.0199);
    expect(matrix.std).toBeLessThan(0.0201);
    expect(matrix.maxAbs).toBeLessThan(0.02 * 5);
    expect(matrix.maxAbs).toBeGreaterThan(0.02 * 3.5);
    expect(new Set(await weights.readFloat32('vision_model.encoder.layers.0.layer_norm1.weight'))).toEqual(new Set([1]));
    expect(new Set(await weights.readFloat32('text_decoder.bert.encoder.layer.5.output.LayerNorm.bias'))).toEqual(new Set([0]));
    expect(new Set(await weights.readFloat32('vision_model.encoder.layers.0.self_attn.qkv.bias'))).toEqual(new Set([0]));
    expect(new Set(await weights.readFloat32('text_decoder.cls.predictions.bias'))).toEqual(new Set([0]));
  });

  it('rejects unknown names and non-integer seeds', async () => {
    const config = await officialConfig('blip-vqa-base');
    await expect(createRandomWeights(config, 1).readFloat32('nope')).rejects.toThrow(/random\(seed=1\): Expected a tensor named 'nope'/);
    expect(() => createRandomWeights(config, 1.5)).toThrow(/Expected an integer for the seed but received 1.5/);
  });

  it('generates all 469.7 M parameters of captioning-large quickly, one tensor at a time', async () => {
    const config = await officialConfig('blip-image-captioning-large');
    const weights = createRandomWeights(config, 3);
    const started = performance.now();
    let total = 0;
    for (const info of weights.list()) total += (await weights.readFloat32(info.name)).length;
    expect(total).toBe(469_732_924);
    expect(performance.now() - started).toBeLessThan(45_000);
  });
});
