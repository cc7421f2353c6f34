/**
 * Reads ONNX Runtime's JSON profiles (session option `enableProfiling`) for the probe tools: kernel time per kind of
 * operator, the caller saying what a "kind" is (the vision and decoder probes split products differently).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Input shapes as the profiler lists them: one `{ name: dims }` per listed input (initializers are not listed). */
export type InputShapes = Array<Record<string, number[]>> | undefined;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string; input_type_shape?: InputShapes };
}

export interface KernelTimes {
  /** Milliseconds per measured run, by kind. */
  msPerRun: Map<string, number>;
  /** Graph nodes of each kind. */
  nodes: Map<string, number>;
}

/** The profile ONNX Runtime wrote last into `dir` (it names the file itself). */
export async function newestProfile(dir: string): Promise<string> {
  const files = await Promise.all((await readdir(dir)).map(async (f) => ({ f: join(dir, f), t: (await stat(join(dir, f))).mtimeMs })));
  if (files.length === 0) throw new Error(`no ONNX Runtime profile in ${dir}`);
  return files.sort((a, b) => b.t - a.t)[0].f;
}

/**
 * Kernel time per kind, averaged over the `measuredRuns` runs that followed the first one: the first `model_run` is a
 * warm-up (first-touch of the weights, allocations) and is dropped.
 */
export async function kernelTimes(file: string, measuredRuns: number, kindOf: (op: string, shapes: InputShapes) => string): Promise<KernelTimes> {
  const events = JSON.parse(await readFile(file, 'utf8')) as ProfileEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const warmUpEnd = runs.length > 0 ? runs[0].ts + runs[0].dur : 0;
  const msPerRun = new Map<string, number>();
  const nodes = new Map<string, number>();
  const seen = new Set<string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name || e.ts < warmUpEnd) continue;
    const kind = kindOf(e.args.op_name, e.args.input_type_shape);
    msPerRun.set(kind, (msPerRun.get(kind) ?? 0) + e.dur / 1000 / measuredRuns);
    if (!seen.has(e.name)) {
      seen.add(e.name);
      nodes.set(kind, (nodes.get(kind) ?? 0) + 1);
    }
  }
  return { msPerRun, nodes };
}
