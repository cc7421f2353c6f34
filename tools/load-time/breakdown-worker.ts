/**
 * Worker side of `npm run bench:load:breakdown` (breakdown.ts): one load of a variant, step by step, in a fresh
 * inference worker thread, with each step's wall time, this thread's CPU time and its page faults. The steps are those
 * of WorkerBackend's worker (worker-entry.ts → BlipPipeline.load → BlipModel.load), called one by one; then the real
 * `BlipPipeline.load` is timed whole, so the sum of the steps can be checked against it.
 *
 * Imports are dynamic on purpose: a static import would run before the first timestamp.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

interface Step {
  step: string;
  wall_ms: number;
  cpu_ms: number;
  minor_faults: number;
}

/** This thread's CPU time (ns, /proc/thread-self/schedstat) and minor page faults (/proc/thread-self/stat). */
function threadCounters(): { cpuNs: number; faults: number } {
  const cpuNs = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  // Fields after the command name (which may hold spaces): state is field 3, minflt field 10.
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuNs, faults: Number(fields[10 - 3]) };
}

const steps: Step[] = [];
async function time<T>(step: string, run: () => Promise<T> | T): Promise<T> {
  const before = threadCounters();
  const t = performance.now();
  const result = await run();
  const after = threadCounters();
  steps.push({ step, wall_ms: performance.now() - t, cpu_ms: (after.cpuNs - before.cpuNs) / 1e6, minor_faults: after.faults - before.faults });
  return result;
}

const { dir, startedAt } = (workerData as { data: { dir: string; startedAt: number } }).data;
// From `new Worker` to here: the thread's start, the bootstrap and tsx's loader registration (worker-bootstrap.mjs).
steps.push({ step: 'thread start + tsx register', wall_ms: performance.timeOrigin + performance.now() - startedAt, cpu_ms: threadCounters().cpuNs / 1e6, minor_faults: threadCounters().faults });

// What worker-entry.ts imports, in groups: native modules first, then the family's TypeScript.
const ort = await time('import onnxruntime-node', () => import('onnxruntime-node'));
await time('import sharp', () => import('sharp'));
const { readManifest } = await time('import runtime modules (tsx transpiles them)', async () => {
  await import('../../src/models/families.ts');
  await import('../../src/backend/items.ts');
  return import('../../src/variant/manifest.ts');
});
const { BlipTokenizer } = await import('../../src/models/blip/runtime/tokenizer.ts');
const { chooseGraphFile } = await import('../../src/runtime/optimized-model.ts');
const { OnnxSession } = await import('../../src/runtime/onnx-session.ts');
const { BlipPipeline } = await import('../../src/models/blip/runtime/pipeline.ts');
const { DEFAULT_IMAGE_LIMITS } = await import('../../src/config/defaults.ts');
const { stat, readFile } = await import('node:fs/promises');
const { join } = await import('node:path');
void ort;

const manifest = await time('read + validate manifest.json', () => readManifest(dir));
await time('check file sizes (manifest.files)', async () => {
  for (const file of Object.keys(manifest.files)) await stat(join(dir, file));
});
await time('tokenizer (read + parse + build)', async () => BlipTokenizer.fromJson(JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8'))));
const graphs = [manifest.graphs.vision, manifest.graphs.crossKv, manifest.graphs.decoder, manifest.graphs.questionEncoder].filter((g) => g !== undefined);
const choices = await time('choose graph files (ORT version, CPU fingerprint, sizes)', () => Promise.all(graphs.map((g) => chooseGraphFile(dir, g, manifest.optimized))));
const sessions = [];
for (const [i, choice] of choices.entries()) {
  const prepacked = manifest.optimized?.graphs[graphs[i]]?.prepacked;
  sessions.push(await time(`session ${graphs[i]} (${choice.from}${choice.from === 'optimized' ? `, saved prepacked: ${prepacked}` : ''})`, () => OnnxSession.load(choice.file, {}, choice.from === 'optimized')));
}
const stepsOnly = steps.slice();
await Promise.all(sessions.map((s) => s.release()));

// The same session files with prepacking off: what is left of a session's creation without ONNX Runtime's PrePack.
const unpacked: Step[] = [];
if ((workerData as { data: { prepackSplit: boolean } }).data.prepackSplit) {
  for (const [i, choice] of choices.entries()) {
    const s = await time(`  same, prepacking off: ${graphs[i]}`, () => OnnxSession.load(choice.file, { memory: { prepacking: false } }, choice.from === 'optimized'));
    unpacked.push(steps.at(-1) as Step);
    await s.release();
  }
}

// The real thing, whole, in this warmed-up thread (imports done): what a load from a ready spare costs.
const pipeline = await time('BlipPipeline.load, whole (imports already done)', () => BlipPipeline.load(dir, { imageLimits: DEFAULT_IMAGE_LIMITS }));
await pipeline.release();

parentPort?.postMessage({ steps: stepsOnly, unpacked, whole: steps.at(-1) });
