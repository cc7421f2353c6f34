import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../../src/onnx/weight-file.ts';
import { decoderWeightBytesPerStep, readGraphShape } from '../../../tools/bench/step-bytes.ts';

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
