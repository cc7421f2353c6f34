/**
 * Test support: writes pickle opcodes by hand (protocol 2 style, as torch.save does), so tests can build exactly
 * the torch checkpoints and hostile pickles they need without Python.
 */
export class PickleWriter {
  readonly #bytes: number[] = [];

  op(...bytes: number[]): this {
    this.#bytes.push(...bytes);
    return this;
  }

  proto(version = 2): this {
    return this.op(0x80, version);
  }

  mark(): this {
    return this.op(0x28);
  }

  /** GLOBAL 'c': `module\nname\n`. */
  global(module: string, name: string): this {
    return this.op(0x63, ...ascii(`${module}\n${name}\n`));
  }

  /** STACK_GLOBAL (protocol 4): module and name as strings on the stack. */
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).op(0x93);
  }

  /** BINUNICODE 'X'. */
  str(text: string): this {
    const utf8 = new TextEncoder().encode(text);
    return this.op(0x58, ...u32(utf8.length), ...utf8);
  }

  /** BININT1 / BININT2 / BININT, or LONG1 for anything wider. */
  int(value: number): this {
    if (value >= 0 && value < 256) return this.op(0x4b, value);
    if (value >= 0 && value < 65536) return this.op(0x4d, value & 0xff, value >> 8);
    if (value >= -(2 ** 31) && value < 2 ** 31) return this.op(0x4a, ...u32(value >>> 0));
    let big = BigInt(value);
    const bytes: number[] = [];
    while (big !== 0n && big !== -1n) {
      bytes.push(Number(big & 0xffn));
      big >>= 8n;
    }
    return this.op(0x8a, bytes.length, ...bytes);
  }

  /** A tuple of ints (sizes and strides). */
  intTuple(values: readonly number[]): this {
    this.mark();
    for (const value of values) this.int(value);
    return this.op(0x74);
  }

  none(): this {
    return this.op(0x4e);
  }

  bool(value: boolean): this {
    return this.op(value ? 0x88 : 0x89);
  }

  emptyTuple(): this {
    return this.op(0x29);
  }

  emptyDict(): this {
    return this.op(0x7d);
  }

  tuple(): this {
    return this.op(0x74);
  }

  reduce(): this {
    return this.op(0x52);
  }

  build(): this {
    return this.op(0x62);
  }

  binPersId(): this {
    return this.op(0x51);
  }

  setItems(): this {
    return this.op(0x75);
  }

  setItem(): this {
    return this.op(0x73);
  }

  binPut(index: number): this {
    return this.op(0x71, index);
  }

  binGet(index: number): this {
    return this.op(0x68, index);
  }

  stop(): this {
    return this.op(0x2e);
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

export type StorageClass =
  | 'FloatStorage'
  | 'DoubleStorage'
  | 'HalfStorage'
  | 'BFloat16Storage'
  | 'LongStorage'
  | 'IntStorage';

export interface TensorDescription {
  name: string;
  storage: { key: string; type: StorageClass; numel: number };
  offset?: number;
  shape: number[];
  /** Defaults to C-contiguous strides. */
  stride?: number[];
  /** Wrap in torch._utils._rebuild_parameter, as nn.Parameter objects are saved. */
  parameter?: boolean;
}

/**
 * The pickle torch.save writes for a state dict: an OrderedDict (with the `_metadata` BUILD state of
 * `module.state_dict()`) or a plain dict, each value `_rebuild_tensor_v2(persistent storage, ...)`.
 */
export function stateDictPickle(tensors: readonly TensorDescription[], options: { ordered?: boolean } = {}): Uint8Array {
  const w = new PickleWriter().proto(2);
  if (options.ordered) w.global('collections', 'OrderedDict').emptyTuple().reduce();
  else w.emptyDict();
  w.mark();
  for (const tensor of tensors) {
    w.str(tensor.name);
    if (tensor.parameter) w.global('torch._utils', '_rebuild_parameter');
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.mark();
    // persistent id ('storage', StorageClass, key, location, numel)
    w.mark().str('storage').global('torch', tensor.storage.type).str(tensor.storage.key).str('cpu');
    w.int(tensor.storage.numel).tuple().binPersId();
    w.int(tensor.offset ?? 0).intTuple(tensor.shape).intTuple(tensor.stride ?? contiguousStrides(tensor.shape));
    w.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
    w.tuple().reduce();
    if (tensor.parameter) wrapParameter(w);
  }
  w.setItems();
  if (options.ordered) {
    // state = {'_metadata': OrderedDict([('', {'version': 1})])}, applied with BUILD like a real state_dict().
    w.emptyDict().str('_metadata').global('collections', 'OrderedDict').emptyTuple().reduce();
    w.str('').emptyDict().str('version').int(1).setItem().setItem().setItem().build();
  }
  return w.stop().bytes();
}

/** Turns `callable, tensor` on the stack into `callable((tensor, False, OrderedDict()))` via REDUCE. */
function wrapParameter(w: PickleWriter): void {
  // The stack holds `_rebuild_parameter, tensor`; make it `_rebuild_parameter, (tensor, False, OrderedDict())`.
  w.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
  w.op(0x87 /* TUPLE3 */).reduce();
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

function ascii(text: string): number[] {
  return [...text].map((char) => char.charCodeAt(0));
}

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}
