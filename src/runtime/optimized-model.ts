import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * Saved optimized graphs: ONNX Runtime's own optimized form of a graph, written once (at convert time) so that loading
 * skips graph optimization (README "Cold start"). Optionally with the prepacked weights too, which skips the larger
 * part of a load, but ONNX Runtime 1.30 crashes (SIGSEGV) running some graphs saved that way (the tiny test
 * fixture's decoder at more than one row), so that is opt-in and experimental (`optimize --prepacked`).
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
  /** Whether the prepacked weights were saved too (`session.save_external_prepacked_constant_initializers`). */
  prepacked: boolean;
  /** By original graph file: the optimized graph and its external data file (with their sizes). */
  graphs: Record<string, { file: string; bytes: number; data: string; dataBytes: number }>;
}

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
 * (memory-mapped at load), and returns what to record. `prepacked` also saves the prepacked weights into that file
 * (experimental, see above): then a load neither packs them nor holds a private copy.
 */
export async function writeOptimizedGraphs(dir: string, graphFiles: readonly string[], prepacked = false): Promise<OptimizedGraphs> {
  const graphs: OptimizedGraphs['graphs'] = {};
  for (const graph of graphFiles) {
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
    graphs[graph] = { ...names, bytes: (await stat(join(dir, names.file))).size, dataBytes: await sizeOrZero(join(dir, names.data)) };
  }
  return { onnxruntime: onnxRuntimeVersion(), cpu: cpuFingerprint(), level: 'all', prepacked, graphs };
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
