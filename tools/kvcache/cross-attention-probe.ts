/**
 * `node --import tsx tools/kvcache/cross-attention-probe.ts [-- --rows 1,4,16] [-- --reps 7] [-- --threads 1]`
 *
 * The decoder's cross-attention alone, at blip-base shapes (12 layers, 12 heads of 64, 577 image tokens), one query
 * token per row as in a decode step, in the K/V precisions the converter can emit:
 *   - fp32: MatMul · Softmax · MatMul over float keys and values (what fp32 variants run, and int8 ones did);
 *   - int8: the converter's `attendInt8` (MatMulInteger over int8 codes with per-token scales);
 *   - fp16: float16 keys and values cast to float32 in the graph (the CPU provider has no fp16 MatMul on x86);
 *   - fp32-kt: fp32 with keys stored untransposed `[B,h,M,d]` and multiplied as q·Kᵀ (ORT's FusedMatMul transB),
 *     a layout candidate (not what the converter emits);
 *   - mha: fp32 through the contrib `com.microsoft.MultiHeadAttention` CPU kernel, query `[B,1,h·d]`, keys and values
 *     BNSH `[B,h,M,d]`, the cross bias as its attention_bias (bit-identical to fp32 on the same K/V, checked);
 *   - fp32-mulsum: q·Kᵀ as a broadcast Mul and a ReduceSum over d (no GEMM);
 *   - fp32-kq / int8-kq: the cache as the GEMM's A side, N = 1 (K `[B,h,M,d]` · qᵀ, then Vᵀ `[B,h,d,M]` · pᵀ), so
 *     the per-call B panel is the 64-float query, not the 577-token cache; int8-kq stores u8 codes (zero point 128);
 *   - floor: no attention, one ReduceSum over every layer's keys and values: what just reading them costs (the
 *     bandwidth bound a form could reach);
 *   - absorbed / absorbed-int8: no K/V at all; each row's image embedding E `[B,M,768]` (fp32, or int8 codes with one
 *     scale per token) and per-layer constant Wk, Wv, bv, with the math of absorbed-attention.ts (scores = (q·Wkᵀ)·Eᵀ,
 *     out = (p·E)·Wv + bv). They read E once per call plus 2 × 768² weight floats per layer whatever the row count
 *     (the "const MB" column); absorbed-check.ts checks they compute what fp32 / int8 compute;
 *   - absorbed-kq: absorbed with E as the GEMMs' A side (E·Q'ᵀ, Eᵀ·Pᵀ), E fed in both layouts;
 *   - absorbed-int8w: absorbed-int8 with the Wk and Wv products as MatMulInteger over int8 weights too (one scale per
 *     output column), as an int8 model quantizes its constant-weight MatMuls;
 *   - absorbed-int8w-kq: absorbed-int8w with E's codes as MatMulInteger's A side (u8, zero point 128).
 * Layers are chained (layer l+1's query is layer l's output) so nothing runs in parallel that a decode step would not.
 * Forms and row counts are interleaved within every repetition; prints median [min–max] wall and CPU ms per call and
 * the K/V bytes one call reads (CPU time of this process: on a shared core, wall time counts other processes). A
 * measurement of the operator form only: the whole step is measured by `npm run bench` and decode-profile.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { attend, attendInt8 } from '../../src/models/blip/convert/layers.ts';
import { median, medianRange, randn } from '../profiling/probe-math.ts';
import { addAbsorbedLayer, attendAbsorbed, attendAbsorbedInt8, attendAbsorbedInt8Kq, attendAbsorbedKq, layerWeights, quantizePerToken, toOffsetBytes, transposeTokens } from './absorbed-attention.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1,4,16' },
    reps: { type: 'string', default: '7' },
    calls: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    layers: { type: 'string', default: '12' },
    tokens: { type: 'string', default: '577' },
    forms: { type: 'string', default: 'fp32,int8,fp16' },
  },
});
const HEADS = 12;
const HEAD_DIM = 64;
const LAYERS = Number(args.layers);
const M = Number(args.tokens);
type Form = 'fp32' | 'int8' | 'fp16' | 'fp32-kt' | 'mha' | 'fp32-mulsum' | 'fp32-kq' | 'int8-kq' | 'floor' | 'absorbed' | 'absorbed-kq' | 'absorbed-int8' | 'absorbed-int8w' | 'absorbed-int8w-kq';
const WIDTH = HEADS * HEAD_DIM;
const SHAPE = { heads: HEADS, headDim: HEAD_DIM };
const FORMS = args.forms!.split(',') as Form[];
const ROWS = args.rows!.split(',').map(Number);

function buildGraph(form: Form, dir: string): Uint8Array {
  const g = new GraphBuilder(`cross_${form}`, new WeightFile(join(dir, `${form}.data`)));
  let q = g.input('q', 'float32', ['batch', HEADS, 1, HEAD_DIM]);
  const bias = g.input('bias', 'float32', ['batch', 1, 1, M]);
  const scaling = { kind: 'divide' as const, headDim: HEAD_DIM };
  if (form === 'mha') q = g.node('Reshape', [q, g.ints([0, 1, HEADS * HEAD_DIM])]);
  // The absorbed forms' E and its transpose, shared by the layers (absorbed: a Transpose the optimizer folds into the
  // MatMuls as transB; the others: a second input, see transposeTokens).
  const absorbed = form.startsWith('absorbed');
  const int8E = form.startsWith('absorbed-int8');
  const eType = form === 'absorbed-int8w-kq' ? 'uint8' : int8E ? 'int8' : 'float32';
  const e = absorbed ? g.input('e', eType, ['batch', M, WIDTH]) : '';
  const eT = form === 'absorbed' ? g.node('Transpose', [e], { perm: [0, 2, 1] }) : absorbed ? g.input('et', eType, ['batch', WIDTH, M]) : '';
  const eScale = int8E ? g.input('es', 'float32', ['batch', 1, M]) : '';
  for (let l = 0; l < LAYERS; l++) {
    if (absorbed) {
      const layer = addAbsorbedLayer(g, SHAPE, layerWeights(SHAPE, l), l, form.startsWith('absorbed-int8w'));
      if (form === 'absorbed') q = attendAbsorbed(g, SHAPE, q, e, eT, layer, bias);
      else if (form === 'absorbed-kq') q = attendAbsorbedKq(g, SHAPE, q, e, eT, layer, bias);
      else if (form === 'absorbed-int8w-kq') q = attendAbsorbedInt8Kq(g, SHAPE, q, { codes: e, codesT: eT, scale: eScale }, layer, bias);
      else q = attendAbsorbedInt8(g, SHAPE, q, { codes: e, codesT: eT, scale: eScale }, layer, bias);
    } else if (form === 'floor') {
      // Not attention: one ReduceSum over each layer's keys and values, the cost of just reading them (bandwidth floor).
      const k = g.input(`k${l}`, 'float32', ['batch', HEADS, HEAD_DIM, M]);
      const v = g.input(`v${l}`, 'float32', ['batch', HEADS, M, HEAD_DIM]);
      const sum = g.node('Add', [g.node('ReduceSum', [k], { keepdims: 0 }), g.node('ReduceSum', [v], { keepdims: 0 })]);
      q = g.node('Add', [q, sum]);
    } else if (form === 'mha') {
      // Contrib MultiHeadAttention, cross-attention form: query [B,1,h·d], keys and values BNSH [B,h,M,d].
      const k = g.input(`k${l}`, 'float32', ['batch', HEADS, M, HEAD_DIM]);
      const v = g.input(`v${l}`, 'float32', ['batch', HEADS, M, HEAD_DIM]);
      q = g.node('MultiHeadAttention', [q, k, v, '', '', bias], { num_heads: HEADS }, 'com.microsoft');
    } else if (form === 'fp32-mulsum') {
      // q·Kᵀ as a broadcast Mul over [B,h,d,M] and a ReduceSum over d: no GEMM, one elementwise pass over the keys.
      const k = g.input(`k${l}`, 'float32', ['batch', HEADS, HEAD_DIM, M]);
      const v = g.input(`v${l}`, 'float32', ['batch', HEADS, M, HEAD_DIM]);
      const qc = g.node('Reshape', [q, g.ints([0, HEADS, HEAD_DIM, 1])]);
      const raw = g.node('ReduceSum', [g.node('Mul', [qc, k]), g.ints([2])], { keepdims: 1 });
      const probs = g.node('Softmax', [g.node('Add', [g.node('Div', [raw, g.scalar(8)]), bias])], { axis: -1 });
      q = g.node('MatMul', [probs, v]);
    } else if (form === 'fp32-kq') {
      // The cache as the GEMM's A side (M = 577 rows, N = 1): K [B,h,M,d] · qᵀ, then Vᵀ [B,h,d,M] · pᵀ.
      const k = g.input(`k${l}`, 'float32', ['batch', HEADS, M, HEAD_DIM]);
      const vT = g.input(`v${l}`, 'float32', ['batch', HEADS, HEAD_DIM, M]);
      const raw = g.node('MatMul', [k, g.node('Reshape', [q, g.ints([0, HEADS, HEAD_DIM, 1])])]);
      const probs = g.node('Softmax', [g.node('Add', [g.node('Div', [raw, g.scalar(8)]), g.node('Reshape', [bias, g.ints([0, 1, M, 1])])])], { axis: 2 });
      q = g.node('Reshape', [g.node('MatMul', [vT, probs]), g.ints([0, HEADS, 1, HEAD_DIM])]);
    } else if (form === 'int8-kq') {
      // int8 with the codes as MatMulInteger's A side (u8, zero point 128) and the query / probabilities as s8 B, N = 1.
      const k = g.input(`k${l}`, 'uint8', ['batch', HEADS, M, HEAD_DIM]);
      const ks = g.input(`ks${l}`, 'float32', ['batch', HEADS, M, 1]);
      const vT = g.input(`v${l}`, 'uint8', ['batch', HEADS, HEAD_DIM, M]);
      const vs = g.input(`vs${l}`, 'float32', ['batch', HEADS, M, 1]);
      const qc = g.node('Reshape', [q, g.ints([0, HEADS, HEAD_DIM, 1])]);
      const qScale = g.node('Div', [g.node('ReduceMax', [g.node('Abs', [qc])], { axes: [2], keepdims: 1 }), g.scalar(127)]);
      const qCodes = g.node('Cast', [g.node('Round', [g.node('Div', [qc, qScale])])], { to: 3 });
      const raw = g.node('Cast', [g.node('MatMulInteger', [k, qCodes, g.byte(128)])], { to: 1 });
      const scores = g.node('Mul', [raw, g.node('Mul', [g.node('Mul', [qScale, g.scalar(1 / 8)]), ks])]);
      const probs = g.node('Softmax', [g.node('Add', [scores, g.node('Reshape', [bias, g.ints([0, 1, M, 1])])])], { axis: 2 });
      const weighted = g.node('Mul', [probs, vs]);
      const pScale = g.node('Div', [g.node('ReduceMax', [weighted], { axes: [2], keepdims: 1 }), g.scalar(127)]);
      const pCodes = g.node('Cast', [g.node('Round', [g.node('Div', [weighted, pScale])])], { to: 3 });
      const context = g.node('Cast', [g.node('MatMulInteger', [vT, pCodes, g.byte(128)])], { to: 1 });
      q = g.node('Reshape', [g.node('Mul', [context, pScale]), g.ints([0, HEADS, 1, HEAD_DIM])]);
    } else if (form === 'int8') {
      const kv = {
        keyT: g.input(`k${l}`, 'int8', ['batch', HEADS, HEAD_DIM, M]),
        keyScale: g.input(`ks${l}`, 'float32', ['batch', HEADS, 1, M]),
        value: g.input(`v${l}`, 'int8', ['batch', HEADS, M, HEAD_DIM]),
        valueScale: g.input(`vs${l}`, 'float32', ['batch', HEADS, 1, M]),
      };
      q = attendInt8(g, q, kv, scaling, bias);
    } else {
      let k = g.input(`k${l}`, form === 'fp16' ? 'float16' : 'float32', form === 'fp32-kt' ? ['batch', HEADS, M, HEAD_DIM] : ['batch', HEADS, HEAD_DIM, M]);
      if (form === 'fp32-kt') k = g.node('Transpose', [k], { perm: [0, 1, 3, 2] });
      let v = g.input(`v${l}`, form === 'fp16' ? 'float16' : 'float32', ['batch', HEADS, M, HEAD_DIM]);
      if (form === 'fp16') {
        k = g.node('Cast', [k], { to: 1 });
        v = g.node('Cast', [v], { to: 1 });
      }
      q = attend(g, q, k, v, scaling, bias);
    }
  }
  g.output(q, 'out', 'float32', form === 'mha' ? ['batch', 1, HEADS * HEAD_DIM] : ['batch', HEADS, 1, HEAD_DIM]);
  return g.encode(`cross-attention probe (${form})`);
}


function toHalf(x: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from(x, (v) => {
    f[0] = v;
    const b = u[0];
    const sign = (b >>> 16) & 0x8000;
    const exp = ((b >>> 23) & 0xff) - 112;
    if (exp <= 0) return sign;
    return sign | (Math.min(exp, 30) << 10) | ((b >>> 13) & 0x3ff);
  });
}

function feeds(form: Form, rows: number): Record<string, ort.Tensor> {
  const per = rows * HEADS * HEAD_DIM * M;
  const out: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', randn(rows * HEADS * HEAD_DIM, 7), [rows, HEADS, 1, HEAD_DIM]),
    bias: new ort.Tensor('float32', new Float32Array(rows * M), [rows, 1, 1, M]),
  };
  if (form === 'absorbed') return { ...out, e: new ort.Tensor('float32', randn(rows * M * WIDTH, 300), [rows, M, WIDTH]) };
  if (form === 'absorbed-kq') {
    const e = randn(rows * M * WIDTH, 300);
    return { ...out, e: new ort.Tensor('float32', e, [rows, M, WIDTH]), et: new ort.Tensor('float32', transposeTokens(e, rows, M, WIDTH), [rows, WIDTH, M]) };
  }
  if (form.startsWith('absorbed-int8')) {
    const quantized = quantizePerToken(randn(rows * M * WIDTH, 300), WIDTH);
    const codesT = transposeTokens(quantized.codes, rows, M, WIDTH);
    const tensor = (codes: Int8Array, dims: number[]) =>
      form === 'absorbed-int8w-kq' ? new ort.Tensor('uint8', toOffsetBytes(codes), dims) : new ort.Tensor('int8', codes, dims);
    return {
      ...out,
      e: tensor(quantized.codes, [rows, M, WIDTH]),
      et: tensor(codesT, [rows, WIDTH, M]),
      es: new ort.Tensor('float32', quantized.scale, [rows, 1, M]),
    };
  }
  for (let l = 0; l < LAYERS; l++) {
    const k = randn(per, 100 + l);
    const v = randn(per, 200 + l);
    if (form === 'fp32' || form === 'floor' || form === 'fp32-kt' || form === 'mha' || form === 'fp32-mulsum' || form === 'fp32-kq') {
      const keysTransposed = form === 'fp32' || form === 'floor' || form === 'fp32-mulsum';
      out[`k${l}`] = new ort.Tensor('float32', k, keysTransposed ? [rows, HEADS, HEAD_DIM, M] : [rows, HEADS, M, HEAD_DIM]);
      out[`v${l}`] = new ort.Tensor('float32', v, form === 'fp32-kq' ? [rows, HEADS, HEAD_DIM, M] : [rows, HEADS, M, HEAD_DIM]);
    } else if (form === 'int8-kq') {
      const codes = (x: Float32Array) => Uint8Array.from(x, (y) => 128 + Math.max(-127, Math.min(127, Math.round(y * 40))));
      out[`k${l}`] = new ort.Tensor('uint8', codes(k), [rows, HEADS, M, HEAD_DIM]);
      out[`v${l}`] = new ort.Tensor('uint8', codes(v), [rows, HEADS, HEAD_DIM, M]);
      out[`ks${l}`] = new ort.Tensor('float32', new Float32Array(rows * HEADS * M).fill(1 / 40), [rows, HEADS, M, 1]);
      out[`vs${l}`] = new ort.Tensor('float32', new Float32Array(rows * HEADS * M).fill(1 / 40), [rows, HEADS, M, 1]);
    } else if (form === 'fp16') {
      out[`k${l}`] = new ort.Tensor('float16', toHalf(k), [rows, HEADS, HEAD_DIM, M]);
      out[`v${l}`] = new ort.Tensor('float16', toHalf(v), [rows, HEADS, M, HEAD_DIM]);
    } else {
      // Codes uniform in ±127 and scales of a unit-variance tensor: the values do not change the kernels' work.
      out[`k${l}`] = new ort.Tensor('int8', Int8Array.from(k, (x) => Math.max(-127, Math.min(127, Math.round(x * 40)))), [rows, HEADS, HEAD_DIM, M]);
      out[`v${l}`] = new ort.Tensor('int8', Int8Array.from(v, (x) => Math.max(-127, Math.min(127, Math.round(x * 40)))), [rows, HEADS, M, HEAD_DIM]);
      out[`ks${l}`] = new ort.Tensor('float32', new Float32Array(rows * HEADS * M).fill(1 / 40), [rows, HEADS, 1, M]);
      out[`vs${l}`] = new ort.Tensor('float32', new Float32Array(rows * HEADS * M).fill(1 / 40), [rows, HEADS, 1, M]);
    }
  }
  return out;
}

const BYTES: Record<string, number> = { fp32: 4, floor: 4, 'fp32-kt': 4, mha: 4, 'fp32-mulsum': 4, 'fp32-kq': 4, fp16: 2, int8: 1, 'int8-kq': 1 };
/**
 * K/V bytes one call reads: keys + values of every layer (+ two float scales per token and head for int8); for the
 * absorbed forms, E instead (+ one float scale per token for int8).
 */
function kvBytes(form: Form, rows: number): number {
  if (form === 'absorbed') return rows * M * WIDTH * 4;
  if (form === 'absorbed-kq') return rows * M * WIDTH * 8; // E in both layouts
  if (form.startsWith('absorbed-int8')) return rows * M * (2 * WIDTH + 4); // codes in both layouts + scales
  const elements = rows * LAYERS * 2 * HEADS * M * HEAD_DIM;
  return elements * BYTES[form] + (form.startsWith('int8') ? rows * LAYERS * 2 * HEADS * M * 4 : 0);
}

/** Constant bytes one call reads whatever the row count: the absorbed forms' Wk and Wv of every layer (fp32 or int8). */
function constBytes(form: Form): number {
  if (form.startsWith('absorbed-int8w')) return LAYERS * 2 * WIDTH * (WIDTH + 4);
  return form.startsWith('absorbed') ? LAYERS * 2 * WIDTH * WIDTH * 4 : 0;
}

const dir = await mkdtemp(join(tmpdir(), 'cross-probe-'));
try {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const form of FORMS) {
    const file = join(dir, `${form}.onnx`);
    await writeFile(file, buildGraph(form, dir));
    sessions.set(form, await ort.InferenceSession.create(file, { intraOpNumThreads: Number(args.threads), interOpNumThreads: 1, executionMode: 'sequential' }));
  }
  const inputs = new Map<string, Record<string, ort.Tensor>>();
  for (const rows of ROWS) for (const form of FORMS) inputs.set(`${form}/${rows}`, feeds(form, rows));
  // Warm-up: first runs allocate and plan.
  for (const [key, f] of inputs) await sessions.get(key.split('/')[0])!.run(f);

  const times = new Map<string, number[]>();
  // CPU time of this process per call as well: on a shared core, wall time counts the time other processes ran.
  const cpu = new Map<string, number[]>();
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (const rows of ROWS) {
      for (const form of FORMS) {
        const key = `${form}/${rows}`;
        const started = performance.now();
        const startedCpu = process.cpuUsage();
        for (let c = 0; c < Number(args.calls); c++) await sessions.get(form)!.run(inputs.get(key)!);
        const used = process.cpuUsage(startedCpu);
        times.set(key, [...(times.get(key) ?? []), (performance.now() - started) / Number(args.calls)]);
        cpu.set(key, [...(cpu.get(key) ?? []), (used.user + used.system) / 1000 / Number(args.calls)]);
      }
    }
  }
  console.log(`cross-attention, ${LAYERS} layers × ${HEADS} heads × ${HEAD_DIM}, ${M} tokens, ${args.threads} thread(s), ${args.reps} interleaved reps of ${args.calls} calls`);
  // GB/s counts every byte a call must read: K/V (or E) plus the absorbed forms' weights.
  console.log('rows | form | K/V MB read (absorbed: E) | const MB | wall ms median [min–max] | GB/s (all read, median wall) | CPU ms median [min–max] | GB/s (median CPU)');
  for (const rows of ROWS) {
    for (const form of FORMS) {
      const t = times.get(`${form}/${rows}`)!;
      const c = cpu.get(`${form}/${rows}`)!;
      const mb = kvBytes(form, rows) / 1e6;
      const all = mb + constBytes(form) / 1e6;
      const range = (xs: number[]) => medianRange(xs, 2);
      console.log(`${rows} | ${form} | ${mb.toFixed(1)} | ${(constBytes(form) / 1e6).toFixed(1)} | ${range(t)} | ${(all / median(t)).toFixed(1)} | ${range(c)} | ${(all / median(c)).toFixed(1)}`);
    }
  }
  for (const s of sessions.values()) await s.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}
