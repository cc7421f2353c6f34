/**
 * The weight bytes one decode step reads, counted from the decoder graph itself (issue 12 item 3): each weight once
 * per step whatever the rows (int8 MatMul weights 1 byte each), an embedding table read through a Gather only for
 * the rows it returns. The per-row K/V and cache bytes come from the runtime's own count
 * (src/models/blip/runtime/decode-bytes.ts), so the bench and the memory bound cannot disagree on them.
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

export interface StepBytes {
  weights: number;
  cross_kv: number;
  self_cache: number;
  total: number;
}

/** The initializers and nodes of an ONNX file (weights may be external: only their shapes and types are read). */
export async function readGraphShape(file: string): Promise<{ initializers: Initializer[]; nodes: GraphNode[] }> {
  const model = onnxProto.onnx.ModelProto.decode(await readFile(file));
  const graph = model.graph!;
  const initializers = (graph.initializer ?? []).map((t) => ({ name: String(t.name), dims: (t.dims ?? []).map((d) => Number(d)), dataType: Number(t.dataType) }));
  const nodes = (graph.node ?? []).map((n) => ({ opType: String(n.opType), inputs: (n.input ?? []).map(String) }));
  return { initializers, nodes };
}
