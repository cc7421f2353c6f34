/**
 * What a torch.save state-dict pickle may do, and what it builds: the unpickle policy of torch-checkpoint.ts. It allows
 * (ordered) dicts and the rebuilding of tensors and parameters from storage files of the archive; every other import,
 * call or BUILD throws before anything happens. Nothing is read here beyond the archive's directory.
 */
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';
import { PickleDict, PickleTuple, type UnpicklePolicy } from './pickle-values.ts';
import { dtypeByteSize } from './stored-dtype.ts';
import { isCount, type StoredDType } from './weight-source.ts';
import type { ZipArchive } from './zip-archive.ts';

/** One storage file of the archive, as a persistent id names it. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly entry: string,
    readonly dtype: StoredDType,
    readonly numel: number,
  ) {}
}

/** What `_rebuild_tensor_v2` describes: a strided view into a storage. Offsets and strides count elements. */
export class TensorRef {
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
export class TorchPolicy implements UnpicklePolicy {
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

/** A short description of a pickle value for messages (never its content). */
export function describeKind(value: unknown): string {
  if (value instanceof AllowedGlobal) return value.qualifiedName;
  if (value instanceof PickleDict) return `a ${value.className}`;
  if (value instanceof PickleTuple) return `a tuple of ${value.items.length}`;
  if (value instanceof TensorRef) return 'a tensor';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value === null) return 'None';
  return `a ${typeof value} ${describeValue(value, 40)}`;
}
