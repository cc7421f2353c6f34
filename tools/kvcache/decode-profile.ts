/**
 * `node --import tsx tools/kvcache/decode-profile.ts --variant DIR [--variant DIR2 …] [--rows 1,4,16] [--cache 10]
 *   [--capacity N] [--reps 5] [--threads N] [--profile] [--prealloc] [--product-memory]`
 *
 * One decode step of each variant's text decoder graph (its own ONNX Runtime session, product settings), fed
 * synthetic inputs of the right shapes and types (cross K/V at the manifest's `crossKvPrecision`, a self-attention
 * cache `--cache` long), at each row count. Variants and row counts are interleaved within every repetition. Prints,
 * per variant and rows: step ms median [min–max], CPU ms, minor page faults per step, the bytes the step must read
 * (decode-bytes.ts) and the bandwidth that implies. With `--profile`, a second pass under ONNX Runtime's profiler
 * prints the time per operator type at each row count: where a 16-row step's time goes that a 1-row step does not
 * spend.
 *
 * Both decoder forms are fed, told apart by their inputs:
 *   - 'present' (converter ≤ 4): a `--cache`-long past gathered by `parents` and returned whole as `present_*`;
 *   - 'capacity' (converter 5): the runtime's cache buffer, `--capacity` columns (default: what the runtime holds at
 *     that length, self-attention-cache.ts `grownColumns`), of which the first `--cache` are attended and the rest
 *     masked; only the new keys and values come back. `--prealloc` applies to the 'present' form only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DecoderIO } from '../../src/models/blip/graph-names.ts';
import { decodeStepBytes } from '../../src/models/blip/runtime/decode-bytes.ts';
import { MASKED } from '../../src/models/blip/runtime/cross-context.ts';
import { grownColumns } from '../../src/models/blip/runtime/self-attention-cache.ts';
import { readManifest, type VariantManifest } from '../../src/variant/manifest.ts';
import { DEFAULT_SESSION_MEMORY } from '../../src/runtime/onnx-session.ts';
import { kernelTimes, newestProfile, type InputShapes } from '../profiling/ort-profile.ts';
import { median, medianRange } from '../profiling/probe-math.ts';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rows: { type: 'string', default: '1,4,16' },
    cache: { type: 'string', default: '10' },
    capacity: { type: 'string' },
    reps: { type: 'string', default: '5' },
    threads: { type: 'string' },
    profile: { type: 'boolean', default: false },
    prealloc: { type: 'boolean', default: false },
    'product-memory': { type: 'boolean', default: false },
  },
});
if (!args.variant?.length) throw new Error('Expected at least one --variant DIR');
const ROWS = args.rows!.split(',').map(Number);
const CACHE = Number(args.cache);
const CAPACITY = args.capacity ? Number(args.capacity) : grownColumns(CACHE, 0);
if (CAPACITY < CACHE) throw new Error(`--capacity ${CAPACITY} is below --cache ${CACHE}`);
type Form = 'present' | 'capacity';

/**
 * ONNX Runtime's default memory settings (CPU arena and memory pattern on), or with `product` the serving process's
 * (DEFAULT_SESSION_MEMORY: both off, tensors malloc'd and freed at every run; run the tool under the Dockerfile's
 * MALLOC_MMAP_THRESHOLD_=1048576 to get its glibc behaviour too).
 */
function sessionOptions(profileDir?: string, product = false): ort.InferenceSession.SessionOptions {
  return {
    ...(product ? { enableCpuMemArena: DEFAULT_SESSION_MEMORY.cpuArena, enableMemPattern: DEFAULT_SESSION_MEMORY.memoryPattern } : {}),
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(args.threads ? { intraOpNumThreads: Number(args.threads) } : {}),
    ...(profileDir ? { enableProfiling: true, profileFilePrefix: join(profileDir, 'decoder') } : {}),
  };
}

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
}
const floats = (n: number) => Float32Array.from({ length: n }, random);

/** Synthetic feeds of one step: `rows` rows, one new token each, a cache of CACHE positions. */
function feeds(m: VariantManifest, rows: number, form: Form): Record<string, ort.Tensor> {
  const { textLayers, textHeads, textHidden, imageTokens } = m.dims;
  const d = textHidden / textHeads;
  const M = imageTokens;
  const int = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  // The past the graph reads: CACHE columns gathered and copied ('present'), or the capacity buffer ('capacity').
  const columns = form === 'present' ? CACHE : CAPACITY;
  const bias = new Float32Array(rows * (columns + 1));
  for (let r = 0; r < rows; r++) bias.fill(MASKED, r * (columns + 1) + CACHE, r * (columns + 1) + columns);
  const out: Record<string, ort.Tensor> = {
    [DecoderIO.inputIds]: int(Array.from({ length: rows }, (_, i) => (100 + i) % m.dims.vocabSize), [rows, 1]),
    [DecoderIO.positionIds]: int(new Array(rows).fill(CACHE), [rows, 1]),
    [DecoderIO.selfBias]: new ort.Tensor('float32', bias, [rows, 1, 1, columns + 1]),
    [DecoderIO.crossBias]: new ort.Tensor('float32', new Float32Array(rows * M), [rows, 1, 1, M]),
  };
  if (form === 'present') out.parents = int(Array.from({ length: rows }, (_, i) => i), [rows]);
  const int8 = (m.crossKvPrecision ?? 'fp32') === 'int8';
  for (let l = 0; l < textLayers; l++) {
    out[DecoderIO.pastKey(l)] = new ort.Tensor('float32', floats(rows * textHidden * columns), [rows, textHeads, columns, d]);
    out[DecoderIO.pastValue(l)] = new ort.Tensor('float32', floats(rows * textHidden * columns), [rows, textHeads, columns, d]);
    const n = rows * textHidden * M;
    if (int8) {
      const codes = () => Int8Array.from({ length: n }, () => Math.round(random() * 254));
      out[DecoderIO.crossKey(l)] = new ort.Tensor('int8', codes(), [rows, textHeads, d, M]);
      out[DecoderIO.crossValue(l)] = new ort.Tensor('int8', codes(), [rows, textHeads, M, d]);
      out[DecoderIO.crossKeyScale(l)] = new ort.Tensor('float32', new Float32Array(rows * textHeads * M).fill(0.02), [rows, textHeads, 1, M]);
      out[DecoderIO.crossValueScale(l)] = new ort.Tensor('float32', new Float32Array(rows * textHeads * M).fill(0.02), [rows, textHeads, 1, M]);
    } else {
      out[DecoderIO.crossKey(l)] = new ort.Tensor('float32', floats(n), [rows, textHeads, d, M]);
      out[DecoderIO.crossValue(l)] = new ort.Tensor('float32', floats(n), [rows, textHeads, M, d]);
    }
  }
  return out;
}

/**
 * Output buffers for `session.run(feeds, fetches)`: the self-attention cache outputs (`present_*`, shapes known
 * before the call) pre-allocated, the logits left to ONNX Runtime. ORT then writes the Concat into them instead of
 * allocating outputs and the binding copying them into new JS buffers.
 */
function presentFetches(m: VariantManifest, rows: number): Record<string, ort.Tensor | null> {
  const { textLayers, textHeads, textHidden } = m.dims;
  const shape = [rows, textHeads, CACHE + 1, textHidden / textHeads];
  const out: Record<string, ort.Tensor | null> = { [DecoderIO.logits]: null };
  for (let l = 0; l < textLayers; l++) {
    for (const name of [`present_key_${l}`, `present_value_${l}`]) out[name] = new ort.Tensor('float32', new Float32Array(rows * textHidden * (CACHE + 1)), shape);
  }
  return out;
}

const variants = await Promise.all(args.variant.map(async (dir) => ({ dir, manifest: await readManifest(dir) })));
const label = (m: VariantManifest) => `${m.name} ${m.precision}/kv-${m.crossKvPrecision ?? 'fp32'}`;

async function timeSteps(): Promise<void> {
  const sessions = await Promise.all(variants.map((v) => ort.InferenceSession.create(join(v.dir, v.manifest.graphs.decoder), sessionOptions())));
  const productSessions = args['product-memory']
    ? await Promise.all(variants.map((v) => ort.InferenceSession.create(join(v.dir, v.manifest.graphs.decoder), sessionOptions(undefined, true))))
    : [];
  const forms = sessions.map((s): Form => (s.inputNames.includes('parents') ? 'present' : 'capacity'));
  const inputs = variants.map((v, i) => new Map(ROWS.map((rows) => [rows, feeds(v.manifest, rows, forms[i])])));
  const fetches = variants.map((v, i) => new Map<number, Record<string, ort.Tensor | null>>(args.prealloc && forms[i] === 'present' ? ROWS.map((rows) => [rows, presentFetches(v.manifest, rows)]) : []));
  // Every variant runs once per rep with ORT-allocated outputs ('ort'); with --prealloc also with pre-allocated
  // present_* ('pre', 'present' form only); with --product-memory also in a session with the serving process's memory
  // settings ('product').
  type Mode = 'ort' | 'pre' | 'product';
  const allModes: Mode[] = ['ort', ...(args.prealloc ? (['pre'] as const) : []), ...(args['product-memory'] ? (['product'] as const) : [])];
  const modesOf = (i: number) => allModes.filter((mode) => mode !== 'pre' || forms[i] === 'present');
  const step = (i: number, rows: number, mode: Mode) =>
    mode === 'pre'
      ? sessions[i].run(inputs[i].get(rows)!, fetches[i].get(rows)!)
      : (mode === 'product' ? productSessions[i] : sessions[i]).run(inputs[i].get(rows)!);
  for (let i = 0; i < variants.length; i++) for (const rows of ROWS) for (const mode of modesOf(i)) await step(i, rows, mode);
  const times = new Map<string, number[]>();
  // CPU time of this process too: on a shared core, wall time also counts the time other processes ran.
  const cpu = new Map<string, number[]>();
  // Minor page faults too: each one is a fresh page of a newly mapped block, and also contention-free.
  const faults = new Map<string, number[]>();
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (const rows of ROWS) {
      for (let i = 0; i < variants.length; i++) {
        for (const mode of modesOf(i)) {
          const started = performance.now();
          const startedCpu = process.cpuUsage();
          const startedFaults = process.resourceUsage().minorPageFault;
          await step(i, rows, mode);
          const used = process.cpuUsage(startedCpu);
          const key = `${i}/${mode}/${rows}`;
          faults.set(key, [...(faults.get(key) ?? []), process.resourceUsage().minorPageFault - startedFaults]);
          times.set(key, [...(times.get(key) ?? []), performance.now() - started]);
          cpu.set(key, [...(cpu.get(key) ?? []), (used.user + used.system) / 1000]);
        }
      }
    }
  }
  console.log(`decode step, cache ${CACHE} (capacity form: buffer of ${CAPACITY} columns), ${args.reps} interleaved reps, threads ${args.threads ?? 'ORT default'}`);
  console.log(
    'variant | form | outputs | rows | step ms median [min–max] | CPU ms median [min–max] | minor faults per step median [min–max] | MB read (weights + cross K/V + self cache) | GB/s at median (wall) | × 1-row step (wall) | × 1-row step (CPU)',
  );
  const range = (xs: number[]) => medianRange(xs, 1);
  variants.forEach((v, i) => {
    for (const mode of modesOf(i)) {
      const one = median(times.get(`${i}/${mode}/${ROWS[0]}`)!);
      const oneCpu = median(cpu.get(`${i}/${mode}/${ROWS[0]}`)!);
      for (const rows of ROWS) {
        const t = times.get(`${i}/${mode}/${rows}`)!;
        const c = cpu.get(`${i}/${mode}/${rows}`)!;
        // The 'present' form reads its past twice (Gather, then Concat); the 'capacity' form its buffer once.
        const b = decodeStepBytes(v.manifest, rows, forms[i] === 'present' ? 2 * CACHE : CAPACITY);
        const mb = (x: number) => (x / 1e6).toFixed(1);
        console.log(
          `${label(v.manifest)} | ${forms[i]} | ${{ ort: 'ORT-allocated, ORT memory defaults', pre: 'pre-allocated present', product: 'ORT-allocated, product memory settings' }[mode]} | ${rows} | ${range(t)} | ${range(c)} | ${medianRange(faults.get(`${i}/${mode}/${rows}`)!, 0)} | ${mb(b.total)} (${mb(b.weights)} + ${mb(b.crossKv)} + ${mb(b.selfCache)}) | ${(b.total / 1e6 / median(t)).toFixed(1)} | ${(median(t) / one).toFixed(2)} | ${(median(c) / oneCpu).toFixed(2)}`,
        );
      }
    }
  });
  await Promise.all([...sessions, ...productSessions].map((s) => s.release()));
}

/** One profiled session per variant and row count, so each profile file holds one row count. */
async function profileSteps(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'decode-profile-'));
  try {
    for (const v of variants) {
      console.log(`\nper-operator kernel time (ms per step, mean over ${args.reps} steps after a warm-up), ${label(v.manifest)}`);
      const byRows = new Map<number, Map<string, number>>();
      for (const rows of ROWS) {
        const session = await ort.InferenceSession.create(join(v.dir, v.manifest.graphs.decoder), sessionOptions(dir));
        const input = feeds(v.manifest, rows, session.inputNames.includes('parents') ? 'present' : 'capacity');
        await session.run(input);
        for (let rep = 0; rep < Number(args.reps); rep++) await session.run(input);
        const file = (session as unknown as { endProfiling(): string }).endProfiling?.();
        await session.release();
        const encoderLength = v.manifest.dims.imageTokens;
        const { msPerRun } = await kernelTimes(file ?? (await newestProfile(dir)), Number(args.reps), (op, shapes) => kind(op, shapes, encoderLength));
        byRows.set(rows, msPerRun);
      }
      const ops = [...new Set([...byRows.values()].flatMap((t) => [...t.keys()]))];
      const last = byRows.get(ROWS[ROWS.length - 1])!;
      ops.sort((a, b) => (last.get(b) ?? 0) - (last.get(a) ?? 0));
      console.log(`op | ${ROWS.map((r) => `${r} rows`).join(' | ')}`);
      for (const op of ops) console.log(`${op} | ${ROWS.map((r) => (byRows.get(r)!.get(op) ?? 0).toFixed(2)).join(' | ')}`);
      console.log(`total | ${ROWS.map((r) => [...byRows.get(r)!.values()].reduce((a, b) => a + b, 0).toFixed(2)).join(' | ')}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Products split by what they multiply: a 2-D second input is a weight (the Linear layers, the LM head), two 4-D
 * inputs are attention (q·Kᵀ, P·V; the cross-attention ones read `encoder_sequence`-long K/V, the self-attention ones
 * the short cache), told apart by the longest dimension.
 */
function kind(op: string, shapes: InputShapes, encoderLength: number): string {
  if (!/MatMul|Gemm/.test(op) || !shapes) return op;
  // The profiler lists no shape for an initializer input: a product with one listed input multiplies by a weight.
  const dims = shapes.map((s) => Object.values(s)[0] ?? []);
  if (dims.length < 2 || dims[1].length <= 2) return `${op} (weights)`;
  return `${op} (${dims[1].includes(encoderLength) ? 'cross' : 'self'}-attention)`;
}

await timeSteps();
if (args.profile) await profileSteps();
