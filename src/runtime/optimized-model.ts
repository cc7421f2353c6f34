import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

/**
 * Saved optimized graphs: ONNX Runtime's own optimized form of a graph, written once (at convert time) so that loading
 * skips graph optimization and, above all, weight prepacking (README "Cold start"): the prepacked weights are saved in
 * the external data file and memory-mapped at load, so a load neither packs them nor holds a private copy.
 *
 * ONNX Runtime 1.30 crashes (SIGSEGV) running some graphs saved with prepacked weights (the tiny test fixture's decoder
 * at more than one row). So each graph saved that way is run against its original, in a child process, on one-row and
 * several-row inputs before it is kept; one that crashes or differs by a single bit is saved without prepacked weights.
 *
 * The saved form is specific to the machine that wrote it: the 'all' level lays some operators out for the CPU's
 * vector width (NCHWc), and prepacked weights are in the layout of the GEMM kernel ONNX Runtime picked for that CPU.
 * So it records the ONNX Runtime version and a fingerprint of the CPU's instruction set, and is used only where both
 * match; anywhere else the original graph is loaded (with a warning saying how to regenerate).
 */

/** What wrote a variant's optimized graphs (manifest.json `optimized`). */
export interface OptimizedGraphs {
  /** The onnxruntime-node version that wrote them. */
  onnxruntime: string;
  /** `cpuFingerprint()` of the machine that wrote them. */
  cpu: string;
  /** ONNX Runtime's graph optimization level they were written at. */
  level: 'all';
  /**
   * By original graph file: the optimized graph and its external data file (with their sizes), and whether the data
   * holds the prepacked weights too (`session.save_external_prepacked_constant_initializers`, verified).
   */
  graphs: Record<string, { file: string; bytes: number; data: string; dataBytes: number; prepacked: boolean }>;
}

/** Sizes of a graph's symbolic input dimensions, e.g. `{ batch: 3, sequence: 2 }`: one set per verification run. */
export type DimensionSet = Record<string, number>;

const VERIFIER = fileURLToPath(new URL('./verify-optimized.mjs', import.meta.url));

/** Where a graph was loaded from: the saved optimized graph, or the original (optimized again at load). */
export type LoadedFrom = 'optimized' | 'original';

/** Initializers smaller than this stay inside the .onnx file (biases, LayerNorm scales). */
const EXTERNAL_MIN_BYTES = 1024;

export function onnxRuntimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/**
 * The CPU features that decide ONNX Runtime's kernels (and so the prepacked weight layout): the architecture and, on
 * Linux, the flag list of /proc/cpuinfo; elsewhere the CPU model name. Hashed to keep the manifest readable.
 */
export function cpuFingerprint(): string {
  let features = cpus()[0]?.model ?? 'unknown';
  try {
    const flags = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (flags) features = flags[1].trim().split(/\s+/).sort().join(' ');
  } catch {
    // Not Linux: the model name stands in for the flags.
  }
  return `${arch()}-${createHash('sha256').update(features).digest('hex').slice(0, 16)}`;
}

/** The optimized file names for a graph file: `vision_model.onnx` → `vision_model.opt.onnx` (+ `.data`). */
export function optimizedNames(graphFile: string): { file: string; data: string } {
  const file = graphFile.replace(/\.onnx$/, '') + '.opt.onnx';
  return { file, data: `${file}.data` };
}

/**
 * Writes ONNX Runtime's optimized form of each graph of `dir` next to it, large initializers in an external data file
 * (memory-mapped at load), and returns what to record. A graph with dimension sets in `verify` is saved with its
 * prepacked weights if it then runs exactly like the original on every set (see above); the others without.
 */
export async function writeOptimizedGraphs(dir: string, graphFiles: readonly string[], verify: Readonly<Record<string, DimensionSet[]>> = {}): Promise<OptimizedGraphs> {
  const candidates = graphFiles.filter((graph) => (verify[graph]?.length ?? 0) > 0);
  for (const graph of graphFiles) await writeOptimized(dir, graph, candidates.includes(graph));
  const failed = await failingGraphs(
    candidates.map((graph) => ({ graph, original: join(dir, graph), optimized: join(dir, optimizedNames(graph).file), dimensionSets: verify[graph] })),
  );
  for (const graph of failed) await writeOptimized(dir, graph, false);
  const graphs: OptimizedGraphs['graphs'] = {};
  for (const graph of graphFiles) {
    const names = optimizedNames(graph);
    const prepacked = candidates.includes(graph) && !failed.includes(graph);
    graphs[graph] = { ...names, bytes: (await stat(join(dir, names.file))).size, dataBytes: await sizeOrZero(join(dir, names.data)), prepacked };
  }
  return { onnxruntime: onnxRuntimeVersion(), cpu: cpuFingerprint(), level: 'all', graphs };
}

async function writeOptimized(dir: string, graph: string, prepacked: boolean): Promise<void> {
  const names = optimizedNames(graph);
  // ONNX Runtime appends to an existing external data file; start from nothing.
  await rm(join(dir, names.data), { force: true });
  const session = await ort.InferenceSession.create(join(dir, graph), {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    optimizedModelFilePath: join(dir, names.file),
    // ORT warns that an 'all'-level model is hardware-specific (NCHWc): the recorded fingerprint guards its use.
    logSeverityLevel: 3,
    extra: {
      session: {
        optimized_model_external_initializers_file_name: names.data,
        optimized_model_external_initializers_min_size_in_bytes: String(EXTERNAL_MIN_BYTES),
        save_external_prepacked_constant_initializers: prepacked ? '1' : '0',
      },
    },
  });
  await session.release();
}

/**
 * Runs verify-optimized.mjs over `jobs` and returns the graphs that differ from their original or crash ONNX Runtime.
 * One process for all of them (a process start costs more than a small graph's check); after a crash, a new one
 * carries on with the jobs after the one that crashed.
 */
async function failingGraphs(jobs: ReadonlyArray<{ graph: string; original: string; optimized: string; dimensionSets: DimensionSet[] }>): Promise<string[]> {
  const failed: string[] = [];
  let rest = [...jobs];
  while (rest.length > 0) {
    const { lines, code } = await runVerifier(rest.map(({ graph: _, ...job }) => job));
    const results = new Map(lines.map((line) => line.split(' ')).map(([verdict, index]) => [Number(index), verdict === 'ok']));
    rest.forEach((job, i) => results.get(i) === false && failed.push(job.graph));
    if (code === 0 && results.size === rest.length) break;
    // Stopped early: the first job without a verdict is the one that crashed.
    const crashed = rest.findIndex((_, i) => !results.has(i));
    if (crashed < 0) break;
    failed.push(rest[crashed].graph);
    rest = rest.slice(crashed + 1);
  }
  return failed;
}

function runVerifier(jobs: unknown[]): Promise<{ lines: string[]; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VERIFIER, JSON.stringify(jobs)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', () => resolve({ lines: [], code: null }));
    child.on('close', (code) => resolve({ lines: out.split('\n').filter((line) => /^(ok|bad) \d+$/.test(line)), code }));
  });
}

/**
 * Which file to load for `graph`: its optimized form when the variant has one written by this ONNX Runtime on this
 * kind of CPU, with intact files; otherwise the original, with the reason (a warning for the log).
 */
export async function chooseGraphFile(
  dir: string,
  graph: string,
  optimized: OptimizedGraphs | undefined,
): Promise<{ file: string; from: LoadedFrom; reason?: string }> {
  const original = { file: join(dir, graph), from: 'original' as const };
  if (!optimized) return { ...original, reason: 'the variant has no saved optimized graphs' };
  if (optimized.onnxruntime !== onnxRuntimeVersion()) {
    return { ...original, reason: `its optimized graphs were written by onnxruntime ${optimized.onnxruntime}, this is ${onnxRuntimeVersion()}` };
  }
  if (optimized.cpu !== cpuFingerprint()) {
    return { ...original, reason: `its optimized graphs were written on another kind of CPU (${optimized.cpu}, this is ${cpuFingerprint()})` };
  }
  const entry = optimized.graphs[graph];
  if (!entry) return { ...original, reason: `it has no optimized form of ${graph}` };
  for (const [name, bytes] of [[entry.file, entry.bytes], [entry.data, entry.dataBytes]] as const) {
    const size = await sizeOrZero(join(dir, name));
    if (size !== bytes) return { ...original, reason: `${name} has ${size} bytes, the manifest says ${bytes}` };
  }
  return { file: join(dir, entry.file), from: 'optimized' };
}

async function sizeOrZero(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}
