import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../../src/onnx/weight-file.ts';
import { crossKvElementBytes, decoderWeightBytesPerStep, readGraphShape, stepBytes } from '../../../tools/bench/step-bytes.ts';

const scratch = await mkdtemp(join(tmpdir(), 'step-bytes-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('bytes a decode step touches', () => {
  it('counts weights in full, an embedding table read by Gather only for the rows it returns, int8 at 1 byte', () => {
    const initializers = [
      { name: 'embed', dims: [1000, 8], dataType: 1 }, // float32, Gather only
      { name: 'w_fp32', dims: [8, 8], dataType: 1 },
      { name: 'w_int8', dims: [8, 16], dataType: 3 },
      { name: 'scale', dims: [16], dataType: 1 },
    ];
    const nodes = [
      { opType: 'Gather', inputs: ['embed', 'ids'] },
      { opType: 'MatMul', inputs: ['x', 'w_fp32'] },
      { opType: 'DynamicQuantizeMatMul', inputs: ['y', 'w_int8', 'scale', ''] },
    ];
    const fixed = 8 * 8 * 4 + 8 * 16 * 1 + 16 * 4;
    expect(decoderWeightBytesPerStep(initializers, nodes, 1)).toBe(fixed + 1 * 8 * 4);
    expect(decoderWeightBytesPerStep(initializers, nodes, 16)).toBe(fixed + 16 * 8 * 4);
    // Tied weights: the table is also the LM head's MatMul weight, so a step reads all of it.
    const tied = [...nodes, { opType: 'MatMul', inputs: ['h', 'embed'] }];
    expect(decoderWeightBytesPerStep(initializers, tied, 1)).toBe(fixed + 1000 * 8 * 4);
  });

  it('refuses an unknown data type instead of guessing its size', () => {
    expect(() => decoderWeightBytesPerStep([{ name: 'w', dims: [2], dataType: 999 }], [], 1)).toThrow(/unknown ONNX data type 999/);
  });

  it('adds per-row cross-attention K/V and self-attention cache (blip-base figures)', () => {
    const shape = { layers: 12, imageTokens: 577, hidden: 768, crossKvElementBytes: 4, cachedTokens: 10 };
    const one = stepBytes(500e6, { ...shape, rows: 1 });
    // 12 layers × K and V × 577 tokens × 768 × 4 bytes: the 42.5 MB per row the issue quotes.
    expect(one.cross_kv).toBe(42_541_056);
    expect(one.self_cache).toBe(12 * 2 * 10 * 768 * 4);
    expect(one.total).toBe(500e6 + 42_541_056 + 737_280);
    const sixteen = stepBytes(500e6, { ...shape, rows: 16 });
    expect(sixteen.cross_kv).toBe(16 * 42_541_056);
    expect(stepBytes(500e6, { ...shape, rows: 16, crossKvElementBytes: crossKvElementBytes('fp16') }).cross_kv).toBe(8 * 42_541_056);
  });

  it('reads the element size of the cross K/V from the manifest field, fp32 when absent', () => {
    expect(crossKvElementBytes(undefined)).toBe(4);
    expect(crossKvElementBytes('fp32')).toBe(4);
    expect(crossKvElementBytes('fp16')).toBe(2);
    expect(crossKvElementBytes('int8')).toBe(1);
    expect(() => crossKvElementBytes('bf16')).toThrow(/crossKvPrecision/);
  });

  it('reads initializer shapes and nodes from an ONNX file with external weights', async () => {
    const weights = new WeightFile(join(scratch, 'g.onnx.data'));
    const g = new GraphBuilder('g', weights);
    const ids = g.input('ids', 'int64', [1]);
    const embed = g.floats('embed', new Float32Array(50 * 4), [50, 4]);
    const w = g.floats('w', new Float32Array(4 * 6), [4, 6]);
    g.output(g.node('MatMul', [g.node('Gather', [embed, ids]), w]), 'y', 'float32', [1, 6]);
    weights.close();
    await writeFile(join(scratch, 'g.onnx'), g.encode('step bytes test'));
    const shape = await readGraphShape(join(scratch, 'g.onnx'));
    expect(shape.initializers).toEqual([
      { name: 'embed', dims: [50, 4], dataType: 1 },
      { name: 'w', dims: [4, 6], dataType: 1 },
    ]);
    expect(decoderWeightBytesPerStep(shape.initializers, shape.nodes, 3)).toBe(3 * 4 * 4 + 4 * 6 * 4);
  });
});
