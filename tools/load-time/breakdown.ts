/**
 * `npm run bench:load:breakdown -- <variant-dir> [--reps N] [--prepack-split] [--json FILE]`
 *
 * Where one load's time goes (issue 12 item 5): a fresh inference worker thread loads the variant step by step
 * (breakdown-worker.ts): thread start and tsx, the imports, the manifest, the tokenizer, the choice of graph files,
 * each session. Per step: wall time, the worker thread's CPU time, its minor page faults. Then `BlipPipeline.load`
 * whole in the same (warmed-up) thread: a load from a ready spare worker. `--prepack-split` also creates each session
 * with ONNX Runtime's prepacking off, to show how much of a session's creation PrePack is (saved prepacked weights
 * or not, ORT 1.30 still packs at load: README "Cold start").
 *
 * Medians over `--reps` fresh workers (default 3). On a shared machine only the CPU and fault columns mean much.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker, stopWorker } from '../../src/runtime/worker-thread.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { reps: { type: 'string', default: '3' }, 'prepack-split': { type: 'boolean', default: false }, json: { type: 'string' } },
});
const reps = Number(values.reps);
if (positionals.length !== 1 || !Number.isInteger(reps) || reps < 1) {
  process.stderr.write('usage: npm run bench:load:breakdown -- <variant-dir> [--reps N ≥ 1] [--prepack-split] [--json FILE]\n');
  process.exit(2);
}
const dir = resolve(positionals[0]);
const ENTRY = new URL('./breakdown-worker.ts', import.meta.url);

interface Step {
  step: string;
  wall_ms: number;
  cpu_ms: number;
  minor_faults: number;
}
interface Run {
  steps: Step[];
  unpacked: Step[];
  whole: Step;
}

const startLoad = loadavg()[0];
const runs: Run[] = [];
for (let rep = 0; rep < reps; rep++) {
  const worker = startWorker(ENTRY, { dir, startedAt: performance.timeOrigin + performance.now(), prepackSplit: values['prepack-split'] }, 'load-breakdown');
  const run = await new Promise<Run>((done, fail) => {
    worker.once('message', done);
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the breakdown worker exited (code ${code})`)));
  });
  await stopWorker(worker, 10_000);
  runs.push(run);
  process.stderr.write(`rep ${rep + 1}/${reps}: steps ${sum(run.steps, 'wall_ms').toFixed(0)} ms, BlipPipeline.load ${run.whole.wall_ms.toFixed(0)} ms\n`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function sum(steps: Step[], key: 'wall_ms' | 'cpu_ms' | 'minor_faults'): number {
  return steps.reduce((total, s) => total + s[key], 0);
}
/** Per step, the median of each column over the runs (steps are in the same order in every run). */
function medians(pick: (run: Run) => Step[]): Step[] {
  return pick(runs[0]).map((first, i) => ({
    step: first.step,
    wall_ms: median(runs.map((r) => pick(r)[i].wall_ms)),
    cpu_ms: median(runs.map((r) => pick(r)[i].cpu_ms)),
    minor_faults: median(runs.map((r) => pick(r)[i].minor_faults)),
  }));
}
const steps = medians((r) => r.steps);
const unpacked = medians((r) => r.unpacked);
const whole = medians((r) => [r.whole])[0];
const total = { step: 'sum of the steps (a load in a fresh worker)', wall_ms: median(runs.map((r) => sum(r.steps, 'wall_ms'))), cpu_ms: median(runs.map((r) => sum(r.steps, 'cpu_ms'))), minor_faults: median(runs.map((r) => sum(r.steps, 'minor_faults'))) };
const mallocEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('MALLOC_') || key === 'GLIBC_TUNABLES'));

const line = (s: Step) => `${s.step.padEnd(78)} ${s.wall_ms.toFixed(0).padStart(7)} ${s.cpu_ms.toFixed(0).padStart(7)} ${String(Math.round(s.minor_faults)).padStart(8)}`;
process.stdout.write(`${dir}: medians of ${reps} fresh workers\n${'step'.padEnd(78)} ${'wall ms'.padStart(7)} ${'cpu ms'.padStart(7)} ${'faults'.padStart(8)}\n`);
for (const s of [...steps, total, ...unpacked, whole]) process.stdout.write(`${line(s)}\n`);
process.stdout.write(`load average ${startLoad.toFixed(2)} → ${loadavg()[0].toFixed(2)}; allocator env: ${JSON.stringify(mallocEnv)}\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ dir, repetitions: reps, malloc_env: mallocEnv, load_average: { start: startLoad, end: loadavg()[0] }, steps, total, prepacking_off: unpacked, pipeline_load: whole }, null, 2)}\n`);
