/**
 * `node --import tsx tools/kvcache/self-cache-probe.ts [--rows 1,16] [--cache 10,20] [--reps 7] [--threads 1] [--capacity 32]`
 *
 * The decoder's self-attention with its cache alone, at blip-base shapes (12 layers, 12 heads of 64, one new token
 * per row), in four forms, to size what the per-step cache copy costs:
 *   - concat: what the converter emitted up to version 4: present = Concat(Gather(past, parents), new) as a graph output, attention
 *     over it; ONNX Runtime allocates the outputs and the binding copies them into new JS buffers;
 *   - concat-pre: the same graph run with `session.run(feeds, fetches)` and the present outputs pre-allocated;
 *   - split: no cache copy at all: scores over the past and over the new token are computed apart and joined (a few
 *     floats per row), and only the new keys and values are output. Converter version 5 emits this form over the
 *     runtime's capacity buffer (layers.ts `attendWithPast`); `--cache` here is then the buffer's capacity;
 *   - gqa: the contrib `com.microsoft.GroupQueryAttention` CPU kernel over a cache buffer of `--capacity` columns,
 *     passed as its past and, through `fetches`, as its present: ONNX Runtime then writes each row's new key and value
 *     in place at that row's length (`seqlens_k`) and copies nothing (checked: the feed buffer holds the new column).
 * Layers are chained through the query. Prints median [min–max] wall and CPU ms per call (CPU time of this process:
 * on a shared core, wall time counts other processes), forms interleaved within every repetition.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { median, medianRange } from '../profiling/probe-math.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1,16' },
    cache: { type: 'string', default: '10,20' },
    reps: { type: 'string', default: '7' },
    threads: { type: 'string', default: '1' },
    capacity: { type: 'string', default: '32' },
  },
});
const HEADS = 12;
const D = 64;
const LAYERS = 12;
type Form = 'concat' | 'concat-pre' | 'split' | 'gqa';
const FORMS: Form[] = ['concat', 'concat-pre', 'split', 'gqa'];
const CAPACITY = Number(args.capacity);

function buildGqaGraph(dir: string): Uint8Array {
  const g = new GraphBuilder('self_gqa', new WeightFile(join(dir, 'gqa.data')));
  let q = g.input('q', 'float32', ['batch', 1, HEADS * D]);
  // GroupQueryAttention takes int32 lengths; the graph builder's inputs are int64, so they are cast once here.
  const seqlens = g.node('Cast', [g.input('seqlens', 'int64', ['batch'])], { to: 6 });
  const total = g.node('Cast', [g.input('total', 'int64', [1])], { to: 6 });
  for (let l = 0; l < LAYERS; l++) {
    const past = { k: g.input(`pk${l}`, 'float32', ['batch', HEADS, CAPACITY, D]), v: g.input(`pv${l}`, 'float32', ['batch', HEADS, CAPACITY, D]) };
    const k = g.node('Mul', [q, g.scalar(0.5)]);
    const v = g.node('Mul', [q, g.scalar(0.25)]);
    const [out, presentKey, presentValue] = g.nodeN('GroupQueryAttention', [q, k, v, past.k, past.v, seqlens, total], 3, { num_heads: HEADS, kv_num_heads: HEADS }, 'com.microsoft');
    g.output(presentKey, `present_key_${l}`, 'float32', ['batch', HEADS, CAPACITY, D]);
    g.output(presentValue, `present_value_${l}`, 'float32', ['batch', HEADS, CAPACITY, D]);
    q = out;
  }
  g.output(q, 'out', 'float32', ['batch', 1, HEADS * D]);
  return g.encode('self-attention cache probe (gqa)');
}

function gqaInputs(rows: number, cache: number): { feeds: Record<string, ort.Tensor>; fetches: Record<string, ort.Tensor | null> } {
  const feeds: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', floats(rows * HEADS * D), [rows, 1, HEADS * D]),
    seqlens: new ort.Tensor('int64', new BigInt64Array(rows).fill(BigInt(cache)), [rows]),
    total: new ort.Tensor('int64', BigInt64Array.from([BigInt(cache + 1)]), [1]),
  };
  const fetches: Record<string, ort.Tensor | null> = { out: null };
  for (let l = 0; l < LAYERS; l++) {
    feeds[`pk${l}`] = fetches[`present_key_${l}`] = new ort.Tensor('float32', floats(rows * HEADS * CAPACITY * D), [rows, HEADS, CAPACITY, D]);
    feeds[`pv${l}`] = fetches[`present_value_${l}`] = new ort.Tensor('float32', floats(rows * HEADS * CAPACITY * D), [rows, HEADS, CAPACITY, D]);
  }
  return { feeds, fetches };
}

function buildGraph(form: 'concat' | 'split', dir: string): Uint8Array {
  const g = new GraphBuilder(`self_${form}`, new WeightFile(join(dir, `${form}.data`)));
  let q = g.input('q', 'float32', ['batch', HEADS, 1, D]);
  const parents = g.input('parents', 'int64', ['batch']);
  for (let l = 0; l < LAYERS; l++) {
    const past = { k: g.input(`pk${l}`, 'float32', ['batch', HEADS, 'past', D]), v: g.input(`pv${l}`, 'float32', ['batch', HEADS, 'past', D]) };
    // The new token's key and value: any function of q will do for timing.
    const k = g.node('Mul', [q, g.scalar(0.5)]);
    const v = g.node('Mul', [q, g.scalar(0.25)]);
    if (form === 'concat') {
      const key = g.node('Concat', [g.node('Gather', [past.k, parents], { axis: 0 }), k], { axis: 2 });
      const value = g.node('Concat', [g.node('Gather', [past.v, parents], { axis: 0 }), v], { axis: 2 });
      g.output(key, `present_key_${l}`, 'float32', ['batch', HEADS, 'total', D]);
      g.output(value, `present_value_${l}`, 'float32', ['batch', HEADS, 'total', D]);
      const probs = g.node('Softmax', [g.node('Div', [g.node('MatMul', [q, g.node('Transpose', [key], { perm: [0, 1, 3, 2] })]), g.scalar(8)])], { axis: -1 });
      q = g.node('MatMul', [probs, value]);
    } else {
      g.output(k, `new_key_${l}`, 'float32', ['batch', HEADS, 1, D]);
      g.output(v, `new_value_${l}`, 'float32', ['batch', HEADS, 1, D]);
      const pastScores = g.node('MatMul', [q, g.node('Transpose', [past.k], { perm: [0, 1, 3, 2] })]);
      const newScore = g.node('ReduceSum', [g.node('Mul', [q, k]), g.ints([3])], { keepdims: 1 });
      const probs = g.node('Softmax', [g.node('Div', [g.node('Concat', [pastScores, newScore], { axis: 3 }), g.scalar(8)])], { axis: -1 });
      const length = g.node('Shape', [past.k], { start: 2, end: 3 });
      const pastProbs = g.node('Slice', [probs, g.ints([0]), length, g.ints([3])]);
      const newProb = g.node('Slice', [probs, length, g.ints([Number.MAX_SAFE_INTEGER]), g.ints([3])]);
      q = g.node('Add', [g.node('MatMul', [pastProbs, past.v]), g.node('Mul', [newProb, v])]);
    }
  }
  g.output(q, 'out', 'float32', ['batch', HEADS, 1, D]);
  return g.encode(`self-attention cache probe (${form})`);
}

const floats = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));

function feeds(rows: number, cache: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', floats(rows * HEADS * D), [rows, HEADS, 1, D]),
    parents: new ort.Tensor('int64', BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)), [rows]),
  };
  for (let l = 0; l < LAYERS; l++) {
    out[`pk${l}`] = new ort.Tensor('float32', floats(rows * HEADS * cache * D), [rows, HEADS, cache, D]);
    out[`pv${l}`] = new ort.Tensor('float32', floats(rows * HEADS * cache * D), [rows, HEADS, cache, D]);
  }
  return out;
}

function presentFetches(rows: number, cache: number): Record<string, ort.Tensor | null> {
  const out: Record<string, ort.Tensor | null> = { out: null };
  for (let l = 0; l < LAYERS; l++) {
    for (const name of [`present_key_${l}`, `present_value_${l}`]) out[name] = new ort.Tensor('float32', new Float32Array(rows * HEADS * (cache + 1) * D), [rows, HEADS, cache + 1, D]);
  }
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'self-cache-probe-'));
try {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: Number(args.threads), interOpNumThreads: 1, executionMode: 'sequential' };
  const sessions = new Map<string, ort.InferenceSession>();
  for (const form of ['concat', 'split'] as const) {
    const file = join(dir, `${form}.onnx`);
    await writeFile(file, buildGraph(form, dir));
    sessions.set(form, await ort.InferenceSession.create(file, options));
  }
  await writeFile(join(dir, 'gqa.onnx'), buildGqaGraph(dir));
  sessions.set('gqa', await ort.InferenceSession.create(join(dir, 'gqa.onnx'), options));
  const shapes = args.rows!.split(',').flatMap((r) => args.cache!.split(',').map((c) => [Number(r), Number(c)] as const));
  const inputs = new Map(shapes.map(([r, c]) => [`${r}/${c}`, { feeds: feeds(r, c), fetches: presentFetches(r, c), gqa: gqaInputs(r, c) }]));
  const call = (form: Form, key: string) => {
    const { feeds: f, fetches, gqa } = inputs.get(key)!;
    if (form === 'gqa') return sessions.get('gqa')!.run(gqa.feeds, gqa.fetches);
    return form === 'concat-pre' ? sessions.get('concat')!.run(f, fetches) : sessions.get(form)!.run(f);
  };
  for (const key of inputs.keys()) for (const form of FORMS) await call(form, key);
  const wall = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (const key of inputs.keys()) {
      for (const form of FORMS) {
        const started = performance.now();
        const startedCpu = process.cpuUsage();
        await call(form, key);
        const used = process.cpuUsage(startedCpu);
        wall.set(`${form}/${key}`, [...(wall.get(`${form}/${key}`) ?? []), performance.now() - started]);
        cpu.set(`${form}/${key}`, [...(cpu.get(`${form}/${key}`) ?? []), (used.user + used.system) / 1000]);
      }
    }
  }
  const range = (xs: number[]) => medianRange(xs, 2);
  console.log(`self-attention with cache, ${LAYERS} layers × ${HEADS} heads × ${D}, ${args.threads} thread(s), ${args.reps} interleaved reps, gqa capacity ${CAPACITY}`);
  console.log('rows | cache | form | cache MB (keys + values, all layers) | wall ms median [min–max] | CPU ms median [min–max]');
  for (const [r, c] of shapes) {
    for (const form of FORMS) {
      const mb = (r * HEADS * c * D * 4 * 2 * LAYERS) / 1e6;
      console.log(`${r} | ${c} | ${form} | ${mb.toFixed(1)} | ${range(wall.get(`${form}/${r}/${c}`)!)} | ${range(cpu.get(`${form}/${r}/${c}`)!)}`);
    }
  }
  for (const s of sessions.values()) await s.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}
