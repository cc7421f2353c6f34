import onnxProto from 'onnx-proto';
import type { WeightFile } from './weight-file.ts';

const { onnx } = onnxProto;
export type DataType = 'float32' | 'float16' | 'int64' | 'int8' | 'uint8';
/** A symbolic dimension (e.g. 'batch') or a fixed size. */
export type Dim = string | number;
/** Integers, integer lists and strings map to INT, INTS, STRING; floats must be wrapped as `{ f }` so 1.0 is not an INT. */
export type AttributeValue = number | number[] | string | { f: number } | { tensor: onnxProto.onnx.ITensorProto };

const ELEM_TYPE: Record<DataType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  float16: onnx.TensorProto.DataType.FLOAT16,
};

/** Initializers smaller than this stay inside the .onnx file; larger ones go to the external weight file. */
const INLINE_LIMIT_BYTES = 1024;

export const OPSET = 17;

/**
 * A small builder for ONNX graphs: values are referred to by name, every node gets a unique output name, and large
 * initializers are streamed to a `WeightFile` as they are added, so building a graph never needs the whole model in
 * memory.
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  private usesMicrosoftDomain = false;

  constructor(
    private readonly graphName: string,
    private readonly weights: WeightFile,
  ) {}

  input(name: string, type: DataType, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Marks `value` as a graph output called `name` (adding an Identity node when the names differ). */
  output(value: string, name: string, type: DataType, dims: Dim[]): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `${name}_identity` });
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a float32 initializer; large ones are appended to the external weight file right away. */
  floats(name: string, data: Float32Array, dims: number[]): string {
    this.claim(name);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(`Initializer ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push(this.tensor(name, onnx.TensorProto.DataType.FLOAT, dims, bytes));
    return name;
  }

  /** A small int64 constant (shapes, axes, indices). */
  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('const_i64');
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push(this.tensor(name, onnx.TensorProto.DataType.INT64, dims, new Uint8Array(data.buffer)));
    return name;
  }

  /** A uint8 scalar constant (a zero point of the integer ops). */
  byte(value: number): string {
    const name = this.fresh('const_u8');
    this.initializers.push(this.tensor(name, onnx.TensorProto.DataType.UINT8, [], new Uint8Array([value])));
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    const name = this.fresh('const_f32');
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    this.initializers.push(this.tensor(name, onnx.TensorProto.DataType.FLOAT, [], bytes));
    return name;
  }

  /** Adds a node and returns its output names. */
  nodeN(opType: string, inputs: string[], outputCount: number, attributes: Record<string, AttributeValue> = {}, domain = ''): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.fresh(opType.toLowerCase()));
    if (domain === 'com.microsoft') this.usesMicrosoftDomain = true;
    this.nodes.push({
      opType,
      domain,
      input: inputs,
      output: outputs,
      name: `${outputs[0]}_node`,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return outputs;
  }

  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, domain = ''): string {
    return this.nodeN(opType, inputs, 1, attributes, domain)[0];
  }

  toModel(docString: string): onnxProto.onnx.ModelProto {
    const opsetImport = [{ domain: '', version: OPSET }];
    if (this.usesMicrosoftDomain) opsetImport.push({ domain: 'com.microsoft', version: 1 });
    return onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'blip-gateway',
      docString,
      opsetImport,
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
  }

  encode(docString: string): Uint8Array {
    return onnx.ModelProto.encode(this.toModel(docString)).finish();
  }

  private tensor(name: string, dataType: number, dims: number[], bytes: Uint8Array): onnxProto.onnx.ITensorProto {
    return initializerTensor(this.weights, name, dataType, dims, bytes);
  }

  private fresh(prefix: string): string {
    let name: string;
    do {
      name = `${prefix}_${this.counter++}`;
    } while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`Duplicate value name in graph ${this.graphName}: ${name}`);
    this.names.add(name);
  }
}

/** An initializer: inline when small, else appended to `weights` and referenced as external data. */
export function initializerTensor(weights: WeightFile, name: string, dataType: number, dims: number[], bytes: Uint8Array): onnxProto.onnx.ITensorProto {
  if (bytes.byteLength <= INLINE_LIMIT_BYTES) {
    return { name, dataType, dims, rawData: bytes.slice() };
  }
  const where = weights.append(bytes);
  return {
    name,
    dataType,
    dims,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: where.location },
      { key: 'offset', value: String(where.offset) },
      { key: 'length', value: String(where.length) },
    ],
  };
}

function valueInfo(name: string, type: DataType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`Attribute ${name}: wrap float values as { f: ${value} }`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('f' in value) return { name, type: T.FLOAT, f: value.f };
  return { name, type: T.TENSOR, t: value.tensor };
}
