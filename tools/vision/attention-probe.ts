/**
 * `node --import tsx tools/vision/attention-probe.ts [--reps 5] [--threads 1] [--forms shipped,mha,int8] [--layers 12]`
 *
 * The vision encoder's self-attention alone, at blip-base shapes (12 heads of 64, 577 tokens, batch 1): from the
 * fused qkv projection's output `[B, 577, 2304]` to the merged context `[B, 577, 768]`, `--layers` times over
 * separate inputs, in the forms a converter could emit:
 *   - shipped: Reshape · Transpose · Gather ×3 · MatMul · Mul · Softmax · MatMul · Transpose · Reshape (vision-graph.ts);
 *   - mha: Split into q, k, v `[B, S, 768]` and contrib `com.microsoft.MultiHeadAttention` (ORT's fused CPU kernel);
 *   - int8-dql: one DynamicQuantizeLinear over the whole qkv output (u8, one scale and zero point), the split on u8
 *     codes, q·Kᵀ as MatMulInteger; probabilities quantized with the fixed scale 1/255 (QuantizeLinear) and P·V as
 *     MatMulInteger: the fewest extra operators an int8 form can have;
 *   - int8-qk: the shipped split, q and k each through DynamicQuantizeLinear (u8, per tensor), q·Kᵀ as MatMulInteger,
 *     P·V in fp32 (probabilities stay exact: their small values are what 8-bit codes lose);
 *   - int8: the shipped split, then layers.ts's `attendInt8` over keys and values quantized per token (symmetric s8)
 *     and the query per row: both products as MatMulInteger.
 * Forms are interleaved within every repetition; prints wall and process-CPU ms per call (median [min–max]) and each
 * form's output cosine and max |difference| against the shipped form. `--profile` adds, per form, ONNX Runtime's
 * kernel ms per operator type (3 runs after a warm-up): whether the products or the quantizing operators cost. Operator form only: the whole encoder is
 * measured by tools/vision/vision-profile.ts.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { attend, attendInt8, mergeHeads, quantizeSymmetric, transposeKeys } from '../../src/models/blip/convert/layers.ts';
import { median, medianRange, randn } from '../profiling/probe-math.ts';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    layers: { type: 'string', default: '12' },
    tokens: { type: 'string', default: '577' },
    forms: { type: 'string', default: 'shipped,mha,int8,int8-dql' },
    profile: { type: 'boolean', default: false },
  },
});
const HEADS = 12;
const HEAD_DIM = 64;
const D = HEADS * HEAD_DIM;
const LAYERS = Number(args.layers);
const T = Number(args.tokens);
type Form = 'shipped' | 'mha' | 'int8' | 'int8-dql' | 'int8-qk';
const FORMS = [...new Set(args.forms!.split(','))] as Form[];

function buildGraph(form: Form, dir: string): Uint8Array {
  const g = new GraphBuilder(`vision_attention_${form}`, new WeightFile(join(dir, `${form}.data`)));
  const scaling = { kind: 'multiply' as const, headDim: HEAD_DIM };
  for (let l = 0; l < LAYERS; l++) {
    const qkv = g.input(`qkv${l}`, 'float32', ['batch', T, 3 * D]);
    let context: string;
    if (form === 'mha') {
      const [q, k, v] = g.nodeN('Split', [qkv, g.ints([D, D, D])], 3, { axis: -1 });
      context = g.node('MultiHeadAttention', [q, k, v], { num_heads: HEADS, scale: { f: HEAD_DIM ** -0.5 } }, 'com.microsoft');
    } else if (form === 'int8-dql') {
      const [codes, scale, zeroPoint] = g.nodeN('DynamicQuantizeLinear', [qkv], 3);
      const split = g.node('Transpose', [g.node('Reshape', [codes, g.ints([0, 0, 3, HEADS, HEAD_DIM])])], { perm: [2, 0, 3, 1, 4] });
      const [q, k, v] = [0, 1, 2].map((part) => g.node('Gather', [split, g.ints([part], [])], { axis: 0 }));
      const raw = g.node('Cast', [g.node('MatMulInteger', [q, transposeKeys(g, k), zeroPoint, zeroPoint])], { to: 1 });
      const factor = g.node('Mul', [g.node('Mul', [scale, scale]), g.scalar(HEAD_DIM ** -0.5)]);
      const probs = g.node('Softmax', [g.node('Mul', [raw, factor])], { axis: -1 });
      const pCodes = g.node('QuantizeLinear', [probs, g.scalar(1 / 255), g.byte(0)]);
      const weighted = g.node('Cast', [g.node('MatMulInteger', [pCodes, v, g.byte(0), zeroPoint])], { to: 1 });
      context = mergeHeads(g, g.node('Mul', [weighted, g.node('Mul', [scale, g.scalar(1 / 255)])]), D);
    } else {
      const split = g.node('Transpose', [g.node('Reshape', [qkv, g.ints([0, 0, 3, HEADS, HEAD_DIM])])], { perm: [2, 0, 3, 1, 4] });
      const [q, k, v] = [0, 1, 2].map((part) => g.node('Gather', [split, g.ints([part], [])], { axis: 0 }));
      if (form === 'int8-qk') {
        const [qc, qs, qz] = g.nodeN('DynamicQuantizeLinear', [q], 3);
        const [kc, ks, kz] = g.nodeN('DynamicQuantizeLinear', [k], 3);
        const raw = g.node('Cast', [g.node('MatMulInteger', [qc, transposeKeys(g, kc), qz, kz])], { to: 1 });
        const probs = g.node('Softmax', [g.node('Mul', [raw, g.node('Mul', [g.node('Mul', [qs, ks]), g.scalar(HEAD_DIM ** -0.5)])])], { axis: -1 });
        context = mergeHeads(g, g.node('MatMul', [probs, v]), D);
      } else if (form === 'int8') {
        const key = quantizeSymmetric(g, k, -1); // per token: [B,h,T,1]
        const value = quantizeSymmetric(g, v, -1);
        const kv = {
          keyT: transposeKeys(g, key.codes),
          keyScale: transposeKeys(g, key.scale),
          value: value.codes,
          valueScale: transposeKeys(g, value.scale),
        };
        context = mergeHeads(g, attendInt8(g, q, kv, scaling), D);
      } else {
        context = mergeHeads(g, attend(g, q, transposeKeys(g, k), v, scaling), D);
      }
    }
    g.output(context, `out${l}`, 'float32', ['batch', T, D]);
  }
  return g.encode(`vision self-attention probe (${form})`);
}


const feeds: Record<string, ort.Tensor> = {};
for (let l = 0; l < LAYERS; l++) feeds[`qkv${l}`] = new ort.Tensor('float32', randn(T * 3 * D, 100 + l), [1, T, 3 * D]);

function compare(a: ort.InferenceSession.OnnxValueMapType, b: ort.InferenceSession.OnnxValueMapType): string {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxDiff = 0;
  for (let l = 0; l < LAYERS; l++) {
    const x = a[`out${l}`].data as Float32Array;
    const y = b[`out${l}`].data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      dot += x[i] * y[i];
      na += x[i] * x[i];
      nb += y[i] * y[i];
      maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
    }
  }
  return `${(dot / Math.sqrt(na * nb)).toFixed(6)} | ${maxDiff.toExponential(2)}`;
}

/** Kernel ms per operator type per run for one form, from ONNX Runtime's profiler (the warm-up run dropped). */
async function profile(form: Form): Promise<void> {
  const prefix = join(dir, `profile-${form}`);
  const session = await ort.InferenceSession.create(join(dir, `${form}.onnx`), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Number(args.threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const runs = 3;
  for (let i = 0; i <= runs; i++) await session.run(feeds);
  await session.release();
  const file = (await readdir(dir)).find((f) => f.startsWith(`profile-${form}`) && f.endsWith('.json'))!;
  const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; ts: number; args?: { op_name?: string } }>;
  const first = events.find((e) => e.cat === 'Session' && e.name === 'model_run');
  const firstEnd = first ? first.ts + first.dur : 0;
  const perOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name || e.ts < firstEnd) continue;
    perOp.set(e.args.op_name, (perOp.get(e.args.op_name) ?? 0) + e.dur / 1000 / runs);
  }
  console.log(`\n${form}: kernel ms per run by operator (${runs} runs after a warm-up)`);
  for (const [op, ms] of [...perOp].sort((a, b) => b[1] - a[1])) console.log(`${op} | ${ms.toFixed(1)}`);
}

const range = (xs: number[]) => medianRange(xs, 1);
const dir = await mkdtemp(join(tmpdir(), 'vision-attention-probe-'));
try {
  const sessions = new Map<Form, ort.InferenceSession>();
  for (const form of FORMS) {
    const file = join(dir, `${form}.onnx`);
    await writeFile(file, buildGraph(form, dir));
    sessions.set(form, await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', intraOpNumThreads: Number(args.threads), interOpNumThreads: 1, executionMode: 'sequential' }));
  }
  const outputs = new Map<Form, ort.InferenceSession.OnnxValueMapType>();
  for (const form of FORMS) outputs.set(form, await sessions.get(form)!.run(feeds));
  const wall = new Map<Form, number[]>(FORMS.map((f) => [f, []]));
  const cpu = new Map<Form, number[]>(FORMS.map((f) => [f, []]));
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (const form of FORMS) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sessions.get(form)!.run(feeds);
      wall.get(form)!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.get(form)!.push((c.user + c.system) / 1000);
    }
  }
  console.log(`vision self-attention, ${LAYERS} layers × ${HEADS} heads × ${HEAD_DIM}, ${T} tokens, batch 1, ${args.threads} thread(s), ${args.reps} interleaved reps`);
  console.log('form | wall ms median [min–max] | CPU ms median [min–max] | CPU × first form | cosine vs first | max |diff|');
  const base = median(cpu.get(FORMS[0])!);
  for (const form of FORMS) {
    console.log(`${form} | ${range(wall.get(form)!)} | ${range(cpu.get(form)!)} | ${(median(cpu.get(form)!) / base).toFixed(3)} | ${compare(outputs.get(FORMS[0])!, outputs.get(form)!)}`);
  }
  for (const s of sessions.values()) await s.release();
  if (args.profile) for (const form of FORMS) await profile(form);
} finally {
  await rm(dir, { recursive: true, force: true });
}
