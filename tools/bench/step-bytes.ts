/**
 * Bytes one decode step touches, next to its time (issue 12 item 3): at 16 rows a step is bound by memory, not by
 * arithmetic, so bytes per step explain (or rule out) the step time. Counted:
 *   - the decoder's weights, each read once per step whatever the rows (int8 MatMul weights 1 byte each); an
 *     embedding table read through a Gather counts only the rows it returns;
 *   - per row, every layer's cross-attention K and V: layers × 2 × imageTokens × hidden × element size
 *     (`crossKvPrecision` in the manifest when a converter writes it: fp16 2, int8 1; fp32 4 otherwise);
 *   - per row, the self-attention cache so far: layers × 2 × cached tokens × hidden × 4.
 * Activations are left out: at one token per row they are a few kB.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

/** Bytes per element of ONNX TensorProto data types (the ones a converted graph holds). */
const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

export interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
}

export interface GraphNode {
  opType: string;
  inputs: string[];
}

/**
 * Weight bytes a step of the decoder graph reads for `rows` rows of one new token each: every initializer in full,
 * except one that only Gather nodes read as their data (an embedding table), of which `rows` slices are read.
 */
export function decoderWeightBytesPerStep(initializers: readonly Initializer[], nodes: readonly GraphNode[], rows: number): number {
  const gatherOnly = new Map<string, boolean>();
  for (const node of nodes) {
    node.inputs.forEach((input, index) => {
      if (!input) return;
      const asGatherData = node.opType === 'Gather' && index === 0;
      gatherOnly.set(input, (gatherOnly.get(input) ?? true) && asGatherData);
    });
  }
  let bytes = 0;
  for (const init of initializers) {
    const element = ELEMENT_BYTES[init.dataType];
    if (element === undefined) throw new Error(`initializer ${init.name}: unknown ONNX data type ${init.dataType}`);
    const elements = init.dims.reduce((a, b) => a * b, 1);
    if (gatherOnly.get(init.name) === true && init.dims.length >= 2) bytes += Math.min(rows, init.dims[0]) * (elements / init.dims[0]) * element;
    else bytes += elements * element;
  }
  return bytes;
}

/** Bytes of one element of the cross-attention K/V cache, from the manifest's `crossKvPrecision` (absent: fp32). */
export function crossKvElementBytes(crossKvPrecision: unknown): number {
  if (crossKvPrecision === undefined || crossKvPrecision === null || crossKvPrecision === 'fp32') return 4;
  if (crossKvPrecision === 'fp16') return 2;
  if (crossKvPrecision === 'int8') return 1;
  throw new Error(`Expected "fp32", "fp16" or "int8" for manifest.crossKvPrecision but received ${JSON.stringify(crossKvPrecision)}`);
}

export interface StepShape {
  rows: number;
  layers: number;
  imageTokens: number;
  hidden: number;
  crossKvElementBytes: number;
  /** Tokens already in the self-attention cache (mean over the measured steps). */
  cachedTokens: number;
}

export interface StepBytes {
  weights: number;
  cross_kv: number;
  self_cache: number;
  total: number;
}

export function stepBytes(weights: number, s: StepShape): StepBytes {
  const crossKv = s.rows * s.layers * 2 * s.imageTokens * s.hidden * s.crossKvElementBytes;
  const selfCache = s.rows * s.layers * 2 * s.cachedTokens * s.hidden * 4;
  return { weights, cross_kv: crossKv, self_cache: selfCache, total: weights + crossKv + selfCache };
}

/** The initializers and nodes of an ONNX file (weights may be external: only their shapes and types are read). */
export async function readGraphShape(file: string): Promise<{ initializers: Initializer[]; nodes: GraphNode[] }> {
  const model = onnxProto.onnx.ModelProto.decode(await readFile(file));
  const graph = model.graph!;
  const initializers = (graph.initializer ?? []).map((t) => ({ name: String(t.name), dims: (t.dims ?? []).map((d) => Number(d)), dataType: Number(t.dataType) }));
  const nodes = (graph.node ?? []).map((n) => ({ opType: String(n.opType), inputs: (n.input ?? []).map(String) }));
  return { initializers, nodes };
}
