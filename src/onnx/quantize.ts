import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { initializerTensor } from './graph-builder.ts';
import { quantizeBlockwise, quantizePerColumn } from './int8-weights.ts';
import { WeightFile } from './weight-file.ts';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.IModelProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;
const MS_DOMAIN = 'com.microsoft';

/**
 * The int8 operator a weight MatMul becomes (ONNX Runtime contrib ops, both with int8 activations):
 * - `DynamicQuantizeMatMul`: the activation is quantized per tensor to uint8 at run time, the weight is int8 with one
 *   scale per output channel; on x86 it runs MLAS's u8s8 GEMM (VNNI where the CPU has it). It is what ORT itself fuses
 *   DynamicQuantizeLinear + MatMulInteger + Cast + Mul into, emitted directly so nothing depends on that fusion.
 * - `MatMulNBits` with bits 8 and accuracy_level 4: the weight is int8 per block of `blockSize` inputs, the activation
 *   is quantized per row and block at run time. Rows never share a scale, so a row's result does not depend on the
 *   other rows of its batch.
 */
export type Int8Form = 'DynamicQuantizeMatMul' | 'MatMulNBits';

export interface QuantizeOptions {
  form: Int8Form;
  /** MatMulNBits only: inputs per weight scale (a power of two ≥ 16); default 128. */
  blockSize?: number;
  /**
   * MatMulNBits only: ORT's `accuracy_level`, default 4 (activations quantized to int8 per row and block, u8s8 GEMM).
   * 0 keeps the activations in float32 and dequantizes the weight blocks on the fly: weight-only int8, the same bytes
   * read per step, without the activation rounding.
   */
  accuracyLevel?: 0 | 4;
  /** Weights (initializer names) to leave in float32. */
  keepFloat?: (weight: string) => boolean;
  /** The external data file the model's initializers point into now. Deleted once the new file is written. */
  from: string;
  /** The external data file to write; initializers of the returned model point into it. */
  to: string;
}

export interface QuantizeResult {
  model: ModelProto;
  data: { bytes: number; sha256: string };
  /** MatMul nodes rewritten, and how many of them took their bias Add along. */
  quantized: number;
  fusedBias: number;
}

/**
 * Rewrites every MatMul whose `B` is a 2-D float initializer (a Linear layer's weight) into `options.form`, with a
 * following `Add` of a `[N]` float initializer folded in as the op's bias. Everything else (attention products of two
 * activations, LayerNorm, Softmax, Gather of embeddings, Conv) is left in float32. Initializers are streamed one at a
 * time from the old external data file to the new one, so memory stays around the largest single weight.
 */
export function quantizeModel(model: ModelProto, options: QuantizeOptions): QuantizeResult {
  const graph = model.graph;
  if (!graph) throw new Error('quantizeModel: the model has no graph');
  const reader = new ExternalReader(dirname(options.from));
  const target = new WeightFile(options.to);
  try {
    const nodes = graph.node ?? [];
    const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
    const uses = countUses(nodes, graph.output ?? []);
    const consumers = consumerIndex(nodes);
    const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
    const dropped = new Set<number>();
    const added: TensorProto[] = [];
    const rewritten: NodeProto[] = [];
    let quantized = 0;
    let fusedBias = 0;

    nodes.forEach((node, index) => {
      if (dropped.has(index)) return;
      const weight = weightOf(node, initializers);
      if (!weight || options.keepFloat?.(weight.name!)) {
        rewritten.push(node);
        return;
      }
      const [K, N] = weight.dims!.map(Number);
      const matmulOut = node.output![0];
      const addIndex = consumers.get(matmulOut);
      const add = addIndex?.length === 1 && !graphOutputs.has(matmulOut) ? nodes[addIndex[0]] : undefined;
      const bias = add ? biasOf(add, matmulOut, N, initializers) : undefined;
      if (add && bias) {
        dropped.add(addIndex![0]);
        fusedBias++;
      }
      const output = add && bias ? add.output![0] : matmulOut;
      const floats = toFloat32(reader.read(weight));
      const base = weight.name!;
      const fresh = (suffix: string): string => {
        const name = `${base}.${suffix}`;
        if (initializers.has(name)) throw new Error(`quantizeModel: initializer name ${name} is taken`);
        return name;
      };
      const nodeName = `${node.name ?? matmulOut}_int8`;
      if (options.form === 'DynamicQuantizeMatMul') {
        const q = quantizePerColumn(floats, K, N);
        const values = fresh('int8');
        const scales = fresh('scale');
        added.push(initializerTensor(target, values, DT.INT8, [K, N], bytes(q.values)));
        added.push(initializerTensor(target, scales, DT.FLOAT, [N], bytes(q.scales)));
        const inputs = bias ? [node.input![0], values, scales, '', bias] : [node.input![0], values, scales];
        rewritten.push({ opType: 'DynamicQuantizeMatMul', domain: MS_DOMAIN, name: nodeName, input: inputs, output: [output] });
      } else {
        const blockSize = options.blockSize ?? 128;
        const q = quantizeBlockwise(floats, K, N, blockSize);
        const values = fresh('nbits8');
        const scales = fresh('scale');
        added.push(initializerTensor(target, values, DT.UINT8, [N, q.blocks, blockSize], q.packed));
        added.push(initializerTensor(target, scales, DT.FLOAT, [N, q.blocks], bytes(q.scales)));
        const inputs = bias ? [node.input![0], values, scales, '', '', bias] : [node.input![0], values, scales];
        const attribute = Object.entries({ K, N, bits: 8, block_size: blockSize, accuracy_level: options.accuracyLevel ?? 4 }).map(([name, i]) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }));
        rewritten.push({ opType: 'MatMulNBits', domain: MS_DOMAIN, name: nodeName, input: inputs, output: [output], attribute });
      }
      uses.set(base, (uses.get(base) ?? 0) - 1);
      quantized++;
    });

    // Kept initializers move to the new data file (inline ones stay inline); weights nothing reads any more go.
    const kept = (graph.initializer ?? [])
      .filter((t) => (uses.get(t.name ?? '') ?? 0) > 0)
      .map((t) => (isExternal(t) ? initializerTensor(target, t.name!, t.dataType!, t.dims!.map(Number), reader.read(t)) : t));

    const opsetImport = [...(model.opsetImport ?? [])];
    if (quantized > 0 && !opsetImport.some((o) => o.domain === MS_DOMAIN)) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
    const out: ModelProto = {
      ...model,
      opsetImport,
      graph: { ...graph, node: rewritten, initializer: [...kept, ...added] },
    };
    const data = target.close();
    reader.close();
    rmSync(options.from, { force: true });
    return { model: out, data, quantized, fusedBias };
  } catch (error) {
    reader.close();
    closeQuietly(target);
    rmSync(options.to, { force: true });
    throw error;
  }
}

function closeQuietly(file: WeightFile): void {
  try {
    file.close();
  } catch {
    // Already closed: the error being reported is the one that matters.
  }
}

// Private: the weight initializer of a plain float MatMul, or undefined.
function weightOf(node: NodeProto, initializers: Map<string, TensorProto>): TensorProto | undefined {
  if (node.opType !== 'MatMul' || (node.domain ?? '') !== '' || node.input?.length !== 2) return undefined;
  const w = initializers.get(node.input[1]);
  return w && w.dataType === DT.FLOAT && w.dims?.length === 2 ? w : undefined;
}

// Private: the `[N]` float initializer `add` adds to `value`, if that is all it does.
function biasOf(add: NodeProto, value: string, N: number, initializers: Map<string, TensorProto>): string | undefined {
  if (add.opType !== 'Add' || (add.domain ?? '') !== '' || add.input?.length !== 2) return undefined;
  const other = add.input[0] === value ? add.input[1] : add.input[1] === value ? add.input[0] : undefined;
  const t = other === undefined ? undefined : initializers.get(other);
  return t && t.dataType === DT.FLOAT && t.dims?.length === 1 && Number(t.dims[0]) === N ? other : undefined;
}

function countUses(nodes: NodeProto[], outputs: onnxProto.onnx.IValueInfoProto[]): Map<string, number> {
  const uses = new Map<string, number>();
  for (const name of [...nodes.flatMap((n) => n.input ?? []), ...outputs.map((o) => o.name ?? '')]) uses.set(name, (uses.get(name) ?? 0) + 1);
  return uses;
}

function consumerIndex(nodes: NodeProto[]): Map<string, number[]> {
  const index = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    for (const input of node.input ?? []) index.set(input, [...(index.get(input) ?? []), i]);
  });
  return index;
}

function isExternal(t: TensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function toFloat32(raw: Uint8Array): Float32Array {
  // Copied: the bytes of a file read need not be 4-byte aligned.
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

/** Reads initializer bytes, inline or from external data files relative to `dir`. */
class ExternalReader {
  private readonly fds = new Map<string, number>();

  constructor(private readonly dir: string) {}

  read(t: TensorProto): Uint8Array {
    if (!isExternal(t)) return t.rawData ?? new Uint8Array(0);
    const entry = new Map((t.externalData ?? []).map((e) => [e.key, e.value ?? '']));
    const location = entry.get('location');
    if (!location) throw new Error(`initializer ${t.name}: external data without a location`);
    const offset = Number(entry.get('offset') ?? 0);
    const length = Number(entry.get('length'));
    let fd = this.fds.get(location);
    if (fd === undefined) {
      fd = openSync(join(this.dir, location), 'r');
      this.fds.set(location, fd);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`initializer ${t.name}: ${location} ends before offset ${offset + length}`);
      done += n;
    }
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** `quantizeModel`, then the model's bytes (what a converter writes next to the new data file). */
export function quantizeAndEncode(model: ModelProto, options: QuantizeOptions): QuantizeResult & { bytes: Uint8Array } {
  const result = quantizeModel(model, options);
  return { ...result, bytes: onnx.ModelProto.encode(result.model).finish() };
}
