/**
 * Lazy reader for PyTorch checkpoints in the zip format `torch.save` writes since 1.6 (`pytorch_model.bin`):
 *   <prefix>/data.pkl       a pickle of the state dict whose tensors point at storages by persistent id
 *   <prefix>/data/<key>     one raw little-endian storage per key
 *   <prefix>/byteorder      optional, "little" or "big"
 *   <prefix>/version, ...   ignored
 * The pickle is read with a restricted unpickler that only rebuilds tensors (see TorchPolicy); storages are read
 * lazily, one tensor at a time, and strided views come out contiguous.
 */
import { open } from 'node:fs/promises';
import { checkpointError } from '../errors.ts';
import { describeValue, formatShape } from './describe-value.ts';
import { PickleDict, PickleTuple, unpickle, type UnpicklePolicy } from './restricted-unpickler.ts';
import {
  decodeFloat32,
  dtypeByteSize,
  elementCount,
  isFloatDType,
  swapByteOrder,
} from './stored-dtype.ts';
import { isCount, StoredTensorTable, type StoredDType, type WeightInfo, type WeightSource } from './weight-source.ts';
import { openZipArchive, type ZipArchive } from './zip-archive.ts';

/** Refuse absurd pickles before reading them into memory; real state-dict pickles are well under 10 MB. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

export async function openTorchCheckpoint(file: string): Promise<WeightSource> {
  await rejectNonZip(file);
  const archive = await openZipArchive(file);
  try {
    const prefix = findPrefix(archive);
    const bigEndian = await readByteOrder(archive, prefix);
    const pickleEntry = archive.entries.get(`${prefix}data.pkl`)!;
    if (pickleEntry.size > MAX_PICKLE_BYTES) {
      throw checkpointError(
        file,
        `Expected ${pickleEntry.name} to be at most ${MAX_PICKLE_BYTES} bytes but it is ${pickleEntry.size}`,
      );
    }
    const pickle = await archive.readRange(pickleEntry.name, 0, pickleEntry.size);
    const root = unpickle(pickle, new TorchPolicy(archive, prefix), file, pickleEntry.name);
    const tensors = collectTensors(root, file);
    return new TorchSource(file, archive, tensors, bigEndian);
  } catch (error) {
    await archive.close();
    throw error;
  }
}

/** One storage file of the archive, as a persistent id names it. */
class StorageRef {
  constructor(
    readonly key: string,
    readonly entry: string,
    readonly dtype: StoredDType,
    readonly numel: number,
  ) {}
}

/** What `_rebuild_tensor_v2` describes: a strided view into a storage. Offsets and strides count elements. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** An import the policy allows; storage classes carry their element type. */
class AllowedGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly storageDType?: StoredDType,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

const STORAGE_DTYPES: Readonly<Record<string, StoredDType>> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const REBUILD_FUNCTIONS = new Set([
  '_rebuild_tensor_v2',
  '_rebuild_tensor',
  '_rebuild_parameter',
  '_rebuild_parameter_with_state',
]);

/**
 * The only things a checkpoint pickle may do: build (ordered) dicts, rebuild tensors and parameters from storages.
 * Every other import, call or BUILD throws before anything happens.
 */
class TorchPolicy implements UnpicklePolicy {
  readonly #archive: ZipArchive;
  readonly #prefix: string;
  readonly #storages = new Map<string, StorageRef>();

  constructor(archive: ZipArchive, prefix: string) {
    this.#archive = archive;
    this.#prefix = prefix;
  }

  findGlobal(module: string, name: string): unknown {
    if (module === 'collections' && name === 'OrderedDict') return new AllowedGlobal(module, name);
    if (module === 'torch._utils' && REBUILD_FUNCTIONS.has(name)) return new AllowedGlobal(module, name);
    if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) {
      return new AllowedGlobal(module, name, STORAGE_DTYPES[name]);
    }
    throw this.#forbidden(`${module}.${name}`);
  }

  call(callable: unknown, args: readonly unknown[]): unknown {
    if (!(callable instanceof AllowedGlobal) || callable.storageDType !== undefined) {
      const what = callable instanceof AllowedGlobal ? `${callable.qualifiedName}(...)` : describeKind(callable);
      throw this.#forbidden(what);
    }
    switch (callable.name) {
      case 'OrderedDict':
        return this.#orderedDict(args);
      case '_rebuild_tensor_v2':
      case '_rebuild_tensor':
        return this.#rebuildTensor(callable.name, args);
      case '_rebuild_parameter':
      case '_rebuild_parameter_with_state':
        // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for inference.
        if (!(args[0] instanceof TensorRef)) {
          throw this.#malformed(`${callable.name} expects a tensor as its first argument`);
        }
        return args[0];
      default:
        throw this.#forbidden(`${callable.qualifiedName}(...)`);
    }
  }

  build(target: unknown, state: unknown): unknown {
    // A state dict's OrderedDict carries `_metadata` (module versions) as BUILD state: irrelevant to the weights.
    if (target instanceof PickleDict && state instanceof PickleDict) return target;
    throw this.#forbidden(`BUILD of ${describeKind(target)}`);
  }

  persistentLoad(pid: unknown): unknown {
    const items = pid instanceof PickleTuple ? pid.items : [];
    const [tag, type, key, , numel] = items;
    if (
      items.length !== 5 ||
      tag !== 'storage' ||
      !(type instanceof AllowedGlobal) ||
      type.storageDType === undefined ||
      typeof key !== 'string' ||
      !isCount(numel)
    ) {
      throw this.#malformed(
        "Expected a persistent id ('storage', <torch storage class>, key, location, numel) " +
          `but received ${describeKind(pid)}`,
      );
    }
    const known = this.#storages.get(key);
    if (known !== undefined) {
      if (known.dtype !== type.storageDType || known.numel !== numel) {
        throw this.#malformed(`storage '${key}' is referenced with two different types or sizes`);
      }
      return known;
    }
    const entry = `${this.#prefix}data/${key}`;
    const info = this.#archive.entries.get(entry);
    if (info === undefined) {
      throw checkpointError(
        this.#archive.file,
        `the pickle refers to storage '${key}' but the archive has no entry '${entry}'`,
      );
    }
    const expected = numel * dtypeByteSize(type.storageDType);
    if (info.size < expected) {
      throw checkpointError(
        this.#archive.file,
        `storage entry '${entry}' is too short: ${numel} × ${type.name} elements need ${expected} bytes ` +
          `but the entry holds ${info.size}`,
      );
    }
    const storage = new StorageRef(key, entry, type.storageDType, numel);
    this.#storages.set(key, storage);
    return storage;
  }

  #orderedDict(args: readonly unknown[]): PickleDict {
    const dict = new PickleDict('collections.OrderedDict');
    if (args.length === 0) return dict;
    const [pairs] = args;
    if (args.length !== 1 || !Array.isArray(pairs)) {
      throw this.#malformed('OrderedDict expects no argument or a list of pairs');
    }
    for (const pair of pairs) {
      const items = pair instanceof PickleTuple ? pair.items : Array.isArray(pair) ? pair : [];
      if (items.length !== 2) throw this.#malformed('OrderedDict expects a list of (key, value) pairs');
      dict.entries.set(items[0], items[1]);
    }
    return dict;
  }

  /** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])` and the older 4-arg form. */
  #rebuildTensor(name: string, args: readonly unknown[]): TensorRef {
    const [storage, offset, size, stride] = args;
    const arity = name === '_rebuild_tensor' ? [4] : [6, 7];
    if (
      !arity.includes(args.length) ||
      !(storage instanceof StorageRef) ||
      !isCount(offset) ||
      !(size instanceof PickleTuple) ||
      !(stride instanceof PickleTuple) ||
      !size.items.every(isCount) ||
      !stride.items.every(isCount) ||
      size.items.length !== stride.items.length
    ) {
      throw this.#malformed(
        `Expected ${name}(storage, offset, size tuple, stride tuple, ...) with ${arity.join(' or ')} arguments ` +
          `but received ${args.length} arguments`,
      );
    }
    return new TensorRef(storage, offset, size.items as number[], stride.items as number[]);
  }

  #forbidden(what: string): Error {
    return checkpointError(this.#archive.file, `pickle asks for ${what}, only tensor rebuilding is allowed`);
  }

  #malformed(message: string): Error {
    return checkpointError(this.#archive.file, `data.pkl: ${message}`);
  }
}

interface StoredTensor extends WeightInfo {
  readonly ref: TensorRef;
}

// Private: the WeightSource over an open archive.
class TorchSource extends StoredTensorTable<StoredTensor> implements WeightSource {
  readonly #archive: ZipArchive;
  readonly #bigEndian: boolean;

  constructor(file: string, archive: ZipArchive, tensors: ReadonlyMap<string, StoredTensor>, bigEndian: boolean) {
    super(file, tensors, 'checkpoint');
    this.#archive = archive;
    this.#bigEndian = bigEndian;
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const tensor = this.stored(name);
    const { storage, offset, shape, stride } = tensor.ref;
    if (!isFloatDType(storage.dtype)) {
      throw checkpointError(
        this.file,
        `Expected a floating-point dtype for weight '${name}' but received ${storage.dtype}`,
      );
    }
    const count = elementCount(shape);
    if (count === 0) return new Float32Array(0);
    // Read only the span of the storage this view touches, then gather if the view is strided.
    const span = viewSpan(shape, stride);
    const size = dtypeByteSize(storage.dtype);
    const bytes = await this.#archive.readRange(storage.entry, offset * size, (offset + span) * size);
    if (this.#bigEndian) swapByteOrder(bytes, size);
    const values = decodeFloat32(bytes, storage.dtype, name, this.file);
    return isContiguous(shape, stride) ? values : gather(values, shape, stride);
  }

  close(): Promise<void> {
    return this.#archive.close();
  }
}

// Private: a clear message for the formats this reader does not take.
async function rejectNonZip(file: string): Promise<void> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      head = Buffer.alloc(4);
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw checkpointError(file, `cannot open the weights file (${(error as Error).message})`, error);
  }
  // Before 1.6, torch.save wrote a bare pickle stream (it starts with PROTO 0x80, then the protocol number).
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) {
    throw checkpointError(
      file,
      'is a legacy (pre-1.6, non-zip) torch.save file, which is not supported: re-save it with a current PyTorch ' +
        '(torch.save(torch.load(path), path)) or convert it to model.safetensors',
    );
  }
  if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) {
    throw checkpointError(
      file,
      `Expected a zip archive (torch.save format) but the file starts with ${describeValue([...head])}`,
    );
  }
}

// Private: torch.save puts everything under one top-level folder named after the file.
function findPrefix(archive: ZipArchive): string {
  const pickles = [...archive.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw checkpointError(
      archive.file,
      pickles.length === 0
        ? 'Expected a <prefix>/data.pkl entry (torch.save zip format) but the archive has none'
        : `Expected one <prefix>/data.pkl entry but the archive has ${pickles.length}: ${pickles.join(', ')}`,
    );
  }
  return pickles[0].slice(0, -'data.pkl'.length);
}

async function readByteOrder(archive: ZipArchive, prefix: string): Promise<boolean> {
  const entry = archive.entries.get(`${prefix}byteorder`);
  if (entry === undefined) return false;
  const text = new TextDecoder().decode(await archive.readRange(entry.name, 0, Math.min(entry.size, 16))).trim();
  if (text !== 'little' && text !== 'big') {
    throw checkpointError(
      archive.file,
      `Expected "little" or "big" in ${entry.name} but received ${describeValue(text)}`,
    );
  }
  return text === 'big';
}

// Private: the pickle's root must be a flat name → tensor mapping whose views fit their storages.
function collectTensors(root: unknown, file: string): Map<string, StoredTensor> {
  if (!(root instanceof PickleDict)) {
    throw checkpointError(
      file,
      `Expected the pickle to hold a state dict (name → tensor) but it holds ${describeKind(root)}`,
    );
  }
  const tensors = new Map<string, StoredTensor>();
  for (const [name, value] of root.entries) {
    if (typeof name !== 'string') {
      throw checkpointError(file, `Expected string keys in the state dict but received ${describeValue(name)}`);
    }
    if (!(value instanceof TensorRef)) {
      throw checkpointError(
        file,
        `Expected a tensor for state dict entry '${name}' but received ${describeKind(value)}`,
      );
    }
    const count = elementCount(value.shape);
    const last = count === 0 ? 0 : value.offset + viewSpan(value.shape, value.stride);
    if (last > value.storage.numel) {
      throw checkpointError(
        file,
        `tensor '${name}' ${formatShape(value.shape)} (offset ${value.offset}, stride ${formatShape(value.stride)}) ` +
          `reads up to element ${last} of storage '${value.storage.key}', which holds ${value.storage.numel}`,
      );
    }
    tensors.set(name, { name, dtype: value.storage.dtype, shape: [...value.shape], ref: value });
  }
  return tensors;
}

/** Elements from the first to the last one a non-empty view touches, inclusive. */
function viewSpan(shape: readonly number[], stride: readonly number[]): number {
  let span = 1;
  for (let axis = 0; axis < shape.length; axis++) span += (shape[axis] - 1) * stride[axis];
  return span;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && stride[axis] !== expected) return false;
    expected *= shape[axis];
  }
  return true;
}

/** Copies a strided view (strides relative to `source[0]`) into C order. */
function gather(source: Float32Array, shape: readonly number[], stride: readonly number[]): Float32Array {
  const out = new Float32Array(elementCount(shape));
  const rank = shape.length;
  const innerSize = shape[rank - 1];
  const innerStride = stride[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let base = 0;
  for (let written = 0; written < out.length; written += innerSize) {
    for (let i = 0; i < innerSize; i++) out[written + i] = source[base + i * innerStride];
    // Odometer over the outer axes.
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]++;
      base += stride[axis];
      if (index[axis] < shape[axis]) break;
      base -= index[axis] * stride[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/** A short description of a pickle value for messages (never its content). */
function describeKind(value: unknown): string {
  if (value instanceof AllowedGlobal) return value.qualifiedName;
  if (value instanceof PickleDict) return `a ${value.className}`;
  if (value instanceof PickleTuple) return `a tuple of ${value.items.length}`;
  if (value instanceof TensorRef) return 'a tensor';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value === null) return 'None';
  return `a ${typeof value} ${describeValue(value, 40)}`;
}
