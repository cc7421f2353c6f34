/**
 * `node --import tsx tools/kvcache/cross-attention-probe.ts [-- --rows 1,4,16] [-- --reps 7] [-- --threads 1]`
 *
 * The decoder's cross-attention alone, at blip-base shapes (12 layers, 12 heads of 64, 577 image tokens), one query
 * token per row as in a decode step, in the K/V precisions the converter can emit:
 *   - fp32: MatMul · Softmax · MatMul over float keys and values (what fp32 variants run, and int8 ones did);
 *   - int8: the converter's `attendInt8` (MatMulInteger over int8 codes with per-token scales);
 *   - fp16: float16 keys and values cast to float32 in the graph (the CPU provider has no fp16 MatMul on x86);
 *   - fp32-kt: fp32 with keys stored untransposed `[B,h,M,d]` and multiplied as q·Kᵀ (ORT's FusedMatMul transB),
 *     a layout candidate (not what the converter emits).
 * Layers are chained (layer l+1's query is layer l's output) so nothing runs in parallel that a decode step would not.
 * Forms and row counts are interleaved within every repetition; prints median [min–max] ms per call and the K/V
 * bytes one call reads. A measurement of the operator form only: the whole step is measured by `npm run bench`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { attend, attendInt8 } from '../../src/models/blip/convert/layers.ts';

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
type Form = 'fp32' | 'int8' | 'fp16' | 'fp32-kt';
const FORMS = args.forms!.split(',') as Form[];
const ROWS = args.rows!.split(',').map(Number);

function buildGraph(form: Form, dir: string): Uint8Array {
  const g = new GraphBuilder(`cross_${form}`, new WeightFile(join(dir, `${form}.data`)));
  let q = g.input('q', 'float32', ['batch', HEADS, 1, HEAD_DIM]);
  const bias = g.input('bias', 'float32', ['batch', 1, 1, M]);
  const scaling = { kind: 'divide' as const, headDim: HEAD_DIM };
  for (let l = 0; l < LAYERS; l++) {
    if (form === 'int8') {
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
  g.output(q, 'out', 'float32', ['batch', HEADS, 1, HEAD_DIM]);
  return g.encode(`cross-attention probe (${form})`);
}

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return out;
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
  for (let l = 0; l < LAYERS; l++) {
    const k = randn(per, 100 + l);
    const v = randn(per, 200 + l);
    if (form === 'fp32' || form === 'fp32-kt') {
      out[`k${l}`] = new ort.Tensor('float32', k, form === 'fp32' ? [rows, HEADS, HEAD_DIM, M] : [rows, HEADS, M, HEAD_DIM]);
      out[`v${l}`] = new ort.Tensor('float32', v, [rows, HEADS, M, HEAD_DIM]);
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

const BYTES = { fp32: 4, 'fp32-kt': 4, fp16: 2, int8: 1 };
/** K/V bytes one call reads: keys + values of every layer (+ two float scales per token and head for int8). */
function kvBytes(form: Form, rows: number): number {
  const elements = rows * LAYERS * 2 * HEADS * M * HEAD_DIM;
  return elements * BYTES[form] + (form === 'int8' ? rows * LAYERS * 2 * HEADS * M * 4 : 0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (const rows of ROWS) {
      for (const form of FORMS) {
        const key = `${form}/${rows}`;
        const started = performance.now();
        for (let c = 0; c < Number(args.calls); c++) await sessions.get(form)!.run(inputs.get(key)!);
        times.set(key, [...(times.get(key) ?? []), (performance.now() - started) / Number(args.calls)]);
      }
    }
  }
  console.log(`cross-attention, ${LAYERS} layers × ${HEADS} heads × ${HEAD_DIM}, ${M} tokens, ${args.threads} thread(s), ${args.reps} interleaved reps of ${args.calls} calls`);
  console.log('rows | form | K/V MB read | ms median [min–max] | GB/s (K/V only, median)');
  for (const rows of ROWS) {
    for (const form of FORMS) {
      const t = times.get(`${form}/${rows}`)!;
      const mb = kvBytes(form, rows) / 1e6;
      console.log(`${rows} | ${form} | ${mb.toFixed(1)} | ${median(t).toFixed(2)} [${Math.min(...t).toFixed(2)}–${Math.max(...t).toFixed(2)}] | ${(mb / median(t)).toFixed(1)}`);
    }
  }
  for (const s of sessions.values()) await s.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}
