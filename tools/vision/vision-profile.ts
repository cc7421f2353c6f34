/**
 * `node --import tsx tools/vision/vision-profile.ts --graph FILE [--graph FILE2 …] [--reps 5] [--threads 1]
 *   [--batch 1] [--profile]`
 *
 * The vision encoder alone: each `--graph` (a vision_model.onnx, or a saved `.opt.onnx`) in its own ONNX Runtime
 * session with product settings, fed one seeded random image batch. Graphs are interleaved within every repetition
 * (A/B on equal terms), and each run is timed in wall ms and in process CPU ms (`process.cpuUsage()`, which drops the
 * time other processes held the core; run pinned with `taskset -c 1` and `--threads 1` so CPU ≈ one core's work).
 * With `--profile`, a second pass under ONNX Runtime's profiler prints kernel ms per operator type and its share, the
 * products split into weight products and attention products (q·Kᵀ, P·V).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { kernelTimes, newestProfile, type InputShapes } from '../profiling/ort-profile.ts';
import { median, medianRange } from '../profiling/probe-math.ts';

const { values: args } = parseArgs({
  options: {
    graph: { type: 'string', multiple: true },
    reps: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '1' },
    size: { type: 'string', default: '384' },
    profile: { type: 'boolean', default: false },
  },
});
if (!args.graph?.length) throw new Error('Expected at least one --graph FILE');
const BATCH = Number(args.batch);
const SIZE = Number(args.size);
const label = (file: string) => `${basename(dirname(file))}/${basename(file)}`;

function sessionOptions(profileDir?: string): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    intraOpNumThreads: Number(args.threads),
    ...(profileDir ? { enableProfiling: true, profileFilePrefix: join(profileDir, 'vision') } : {}),
  };
}

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
}
const pixels = new ort.Tensor('float32', Float32Array.from({ length: BATCH * 3 * SIZE * SIZE }, () => 4 * random()), [BATCH, 3, SIZE, SIZE]);

async function open(file: string, profileDir?: string): Promise<{ session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }> {
  const session = await ort.InferenceSession.create(file, sessionOptions(profileDir));
  return { session, feeds: { [session.inputNames[0]]: pixels } };
}

const range = (xs: number[]) => medianRange(xs, 1);

async function timeRuns(): Promise<void> {
  const opened = [];
  for (const file of args.graph!) opened.push(await open(file));
  for (const o of opened) await o.session.run(o.feeds);
  const wall = opened.map(() => [] as number[]);
  const cpu = opened.map(() => [] as number[]);
  for (let rep = 0; rep < Number(args.reps); rep++) {
    for (let i = 0; i < opened.length; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await opened[i].session.run(opened[i].feeds);
      wall[i].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i].push((c.user + c.system) / 1000);
    }
  }
  console.log(`vision encoder, batch ${BATCH}, ${args.reps} interleaved reps, intra-op threads ${args.threads}`);
  console.log('graph | wall ms median [min–max] | CPU ms median [min–max] | CPU × first graph');
  const base = median(cpu[0]);
  args.graph!.forEach((file, i) => console.log(`${label(file)} | ${range(wall[i])} | ${range(cpu[i])} | ${(median(cpu[i]) / base).toFixed(3)}`));
  await Promise.all(opened.map((o) => o.session.release()));
}

async function profileRuns(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vision-profile-'));
  try {
    for (const file of args.graph!) {
      const { session, feeds } = await open(file, dir);
      await session.run(feeds);
      for (let rep = 0; rep < Number(args.reps); rep++) await session.run(feeds);
      await session.release();
      const { msPerRun: times, nodes } = await kernelTimes(await newestProfile(dir), Number(args.reps), kind);
      const total = [...times.values()].reduce((a, b) => a + b, 0);
      console.log(`\nkernel ms per run by operator (mean of ${args.reps} runs after a warm-up), ${label(file)}`);
      console.log('op | ms | share | nodes');
      for (const [op, ms] of [...times].sort((a, b) => b[1] - a[1])) {
        console.log(`${op} | ${ms.toFixed(2)} | ${((100 * ms) / total).toFixed(1)} % | ${nodes.get(op) ?? 0}`);
      }
      console.log(`total | ${total.toFixed(2)} | 100 %`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Products split by operands: a listed 4-D second input is an activation (attention), else a weight. */
function kind(op: string, shapes: InputShapes): string {
  if (!/MatMul|Gemm/.test(op) || !shapes) return op;
  const dims = shapes.map((s) => Object.values(s)[0] ?? []);
  if (dims.length < 2 || dims[1].length <= 2) return `${op} (weights)`;
  return `${op} (attention)`;
}

await timeRuns();
if (args.profile) await profileRuns();
