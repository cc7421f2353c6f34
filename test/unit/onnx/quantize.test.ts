import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeBlockwise, quantizePerColumn } from '../../../src/onnx/int8-weights.ts';
import { GraphBuilder } from '../../../src/onnx/graph-builder.ts';
import { quantizeAndEncode, type Int8Form } from '../../../src/onnx/quantize.ts';
import { WeightFile } from '../../../src/onnx/weight-file.ts';

const { onnx } = onnxProto;

// A deterministic spread of values with a few outliers, like a trained Linear layer's weights.
function weights(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31 - 0.5) * (i % 97 === 0 ? 0.6 : 0.1);
  }
  return out;
}

function matmul(x: Float32Array, w: Float32Array, rows: number, K: number, N: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) sum += x[r * K + k] * w[k * N + n];
      y[r * N + n] = sum;
    }
  }
  return y;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

describe('int8 weight layouts', () => {
  it('per column: one scale per output channel, codes within ±127, error within half a step', () => {
    const [K, N] = [40, 24];
    const w = weights(K * N, 1);
    const { values, scales } = quantizePerColumn(w, K, N);
    expect(scales).toHaveLength(N);
    for (let i = 0; i < K * N; i++) {
      expect(Math.abs(values[i])).toBeLessThanOrEqual(127);
      expect(Math.abs(values[i] * scales[i % N] - w[i])).toBeLessThanOrEqual(scales[i % N] / 2 + 1e-7);
    }
    // The largest magnitude of each column maps to ±127 exactly.
    expect(Math.max(...Array.from({ length: K }, (_, k) => Math.abs(values[k * N])))).toBe(127);
  });

  it('an all-zero column dequantizes to zeros', () => {
    const w = new Float32Array(4 * 3).map((_, i) => (i % 3 === 1 ? 0 : i));
    const { values, scales } = quantizePerColumn(w, 4, 3);
    expect(scales[1]).toBe(0);
    expect([values[1], values[4], values[7], values[10]]).toEqual([0, 0, 0, 0]);
  });

  it('blockwise: output-channel-major codes offset by 128, a padded last block, error within half a step', () => {
    const [K, N, bs] = [40, 5, 16];
    const w = weights(K * N, 2);
    const { packed, scales, blocks } = quantizeBlockwise(w, K, N, bs);
    expect(blocks).toBe(3);
    expect(packed).toHaveLength(N * blocks * bs);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const b = Math.floor(k / bs);
        const scale = scales[n * blocks + b];
        const code = packed[(n * blocks + b) * bs + (k % bs)];
        expect(Math.abs((code - 128) * scale - w[k * N + n])).toBeLessThanOrEqual(scale / 2 + 1e-7);
      }
      // K = 40 fills 8 of the third block's 16 slots; the rest are zero codes.
      for (let k = 40; k < 48; k++) expect(packed[(n * blocks + 2) * bs + (k % bs)]).toBe(128);
    }
  });

  it('refuses a block size ONNX Runtime does not take, and a weight of the wrong size', () => {
    expect(() => quantizeBlockwise(new Float32Array(64), 8, 8, 24)).toThrow('Expected a power of two ≥ 16 for blockSize but received 24');
    expect(() => quantizePerColumn(new Float32Array(10), 4, 3)).toThrow('Expected 4×3 = 12 weights but received 10');
  });
});

describe.each(['DynamicQuantizeMatMul', 'MatMulNBits'] as const)('quantizeModel as %s, in a real ONNX Runtime session', (form: Int8Form) => {
  const [K, N, H] = [64, 48, 96];
  const w1 = weights(K * H, 3);
  const b1 = weights(H, 4);
  const w2 = weights(H * N, 5);
  const attn = weights(N * N, 6);
  let dir = '';
  let session: ort.InferenceSession;
  let model: onnxProto.onnx.IModelProto;
  let result: ReturnType<typeof quantizeAndEncode>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quantize-test-'));
    // x → MatMul(W1) + b1 → Relu → MatMul(W2) (no bias) → MatMul with an activation (stays float) → y, and W2 also
    // read by a second consumer, so its float copy must survive.
    const data = new WeightFile(join(dir, 'g.onnx.data.fp32'));
    const g = new GraphBuilder('g', data);
    const x = g.input('x', 'float32', ['batch', 'rows', K]);
    const h = g.node('Relu', [g.node('Add', [g.node('MatMul', [x, g.floats('w1', w1, [K, H])]), g.floats('b1', b1, [H])])]);
    const w2Name = g.floats('w2', w2, [H, N]);
    const y = g.node('MatMul', [h, w2Name]);
    g.output(g.node('MatMul', [y, g.floats('attn', attn, [N, N])]), 'y', 'float32', ['batch', 'rows', N]);
    g.output(g.node('Shape', [w2Name]), 'w2_shape', 'int64', [2]);
    data.close();
    result = quantizeAndEncode(g.toModel('test'), { form, blockSize: 32, from: data.path, to: join(dir, 'g.onnx.data') });
    model = onnx.ModelProto.decode(result.bytes);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'g.onnx'), result.bytes);
    session = await ort.InferenceSession.create(join(dir, 'g.onnx'), { graphOptimizationLevel: 'all' });
  });
  afterAll(async () => {
    await session?.release();
    await rm(dir, { recursive: true, force: true });
  });

  it('rewrites every MatMul with a weight initializer, folds the bias Add, and leaves no float weight MatMul', () => {
    const initializers = new Map(model.graph!.initializer!.map((t) => [t.name, t]));
    const ops = model.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === form)).toHaveLength(3);
    expect(result.quantized).toBe(3);
    expect(result.fusedBias).toBe(1);
    expect(ops).not.toContain('Add');
    const floatWeightMatMuls = model.graph!.node!.filter((n) => n.opType === 'MatMul' && initializers.has(n.input![1]));
    expect(floatWeightMatMuls).toEqual([]);
    expect(model.opsetImport!.map((o) => o.domain)).toContain('com.microsoft');
    // w1 and attn are gone as floats; w2 stays, for the Shape node that reads it.
    expect(initializers.has('w1')).toBe(false);
    expect(initializers.has('attn')).toBe(false);
    expect(initializers.get('w2')?.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
  });

  it('deletes the float data file; the new one holds one byte per quantized weight', async () => {
    await expect(stat(join(dir, 'g.onnx.data.fp32'))).rejects.toThrow('ENOENT');
    expect((await stat(join(dir, 'g.onnx.data'))).size).toBe(result.data.bytes);
    const w1 = model.graph!.initializer!.find((t) => t.name === (form === 'MatMulNBits' ? 'w1.nbits8' : 'w1.int8'))!;
    const length = w1.externalData!.find((e) => e.key === 'length')!.value;
    expect(Number(length)).toBe(K * H);
  });

  it('computes what the float graph computes, within int8 error', async () => {
    const rows = 7;
    const input = weights(2 * rows * K, 7).map((v) => v * 10);
    const out = await session.run({ x: new ort.Tensor('float32', input, [2, rows, K]) });
    const hidden = matmul(input, w1, 2 * rows, K, H, b1).map((v) => Math.max(0, v));
    const expected = matmul(matmul(hidden, w2, 2 * rows, H, N), attn, 2 * rows, N, N);
    const actual = out.y.data as Float32Array;
    expect(cosine(actual, expected)).toBeGreaterThan(0.999);
    expect(Array.from(out.w2_shape.data as BigInt64Array)).toEqual([BigInt(H), BigInt(N)]);
  });
});

describe('quantizeModel keepFloat', () => {
  it('leaves the named weights as float MatMuls and quantizes the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantize-keep-'));
    try {
      const data = new WeightFile(join(dir, 'g.onnx.data.fp32'));
      const g = new GraphBuilder('g', data);
      const x = g.input('x', 'float32', ['rows', 32]);
      const h = g.node('MatMul', [x, g.floats('body', weights(32 * 32, 8), [32, 32])]);
      g.output(g.node('MatMul', [h, g.floats('head', weights(32 * 16, 9), [32, 16])]), 'y', 'float32', ['rows', 16]);
      data.close();
      const result = quantizeAndEncode(g.toModel('keep'), { form: 'DynamicQuantizeMatMul', keepFloat: (name) => name === 'head', from: data.path, to: join(dir, 'g.onnx.data') });
      const nodes = onnx.ModelProto.decode(result.bytes).graph!.node!.filter((n) => n.opType !== 'Identity').map((n) => [n.opType, n.input![1]]);
      expect(nodes).toEqual([
        ['DynamicQuantizeMatMul', 'body.int8'],
        ['MatMul', 'head'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('quantizeModel MatMulNBits accuracyLevel 0 (weight-only int8)', () => {
  it('keeps the activations in float32: the output equals x times the dequantized weight, to float rounding', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantize-acc0-'));
    const [K, N, rows, blockSize] = [64, 24, 5, 32];
    const w = weights(K * N, 10);
    try {
      const data = new WeightFile(join(dir, 'g.onnx.data.fp32'));
      const g = new GraphBuilder('g', data);
      const x = g.input('x', 'float32', ['rows', K]);
      g.output(g.node('MatMul', [x, g.floats('w', w, [K, N])]), 'y', 'float32', ['rows', N]);
      data.close();
      const result = quantizeAndEncode(g.toModel('acc0'), { form: 'MatMulNBits', blockSize, accuracyLevel: 0, from: data.path, to: join(dir, 'g.onnx.data') });
      const node = onnx.ModelProto.decode(result.bytes).graph!.node!.find((n) => n.opType === 'MatMulNBits')!;
      expect(Number(node.attribute!.find((a) => a.name === 'accuracy_level')!.i)).toBe(0);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'g.onnx'), result.bytes);
      const session = await ort.InferenceSession.create(join(dir, 'g.onnx'));
      // Inputs with a wide range, which int8 activations (accuracy level 4) could not carry to 1e-5.
      const input = weights(rows * K, 11).map((v, i) => v * (i % 7 === 0 ? 1000 : 1));
      const y = (await session.run({ x: new ort.Tensor('float32', input, [rows, K]) })).y.data as Float32Array;
      await session.release();
      const q = quantizeBlockwise(w, K, N, blockSize);
      const dequantized = new Float32Array(K * N);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) dequantized[k * N + n] = (q.packed[(n * q.blocks + Math.floor(k / blockSize)) * blockSize + (k % blockSize)] - 128) * q.scales[n * q.blocks + Math.floor(k / blockSize)];
      const expected = matmul(input, dequantized, rows, K, N);
      const scale = Math.max(...expected.map(Math.abs));
      expect(Math.max(...Array.from(y, (v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-5 * scale);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
