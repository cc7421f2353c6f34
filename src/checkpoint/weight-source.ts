/**
 * A read-only view of the tensors in a checkpoint, whatever its file format. Sources are lazy: listing is cheap and
 * each `readFloat32` reads (or computes) one tensor, so a 1.9 GB checkpoint is never held in memory whole.
 */
import { checkpointError } from '../errors.ts';

/** Element types as safetensors names them; PyTorch storages map onto the same set. */
export type StoredDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface WeightInfo {
  name: string;
  dtype: StoredDType;
  shape: number[];
}

export interface WeightSource {
  /** What to name in error messages (a path, or a description such as `random(seed=1)`). */
  readonly file: string;
  /** Every tensor, in the order the source stores them. */
  list(): WeightInfo[];
  get(name: string): WeightInfo | undefined;
  /** The tensor in C order as float32; F16/BF16/F64 are converted, integer dtypes are an error. */
  readFloat32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * What the file-backed sources share: a table of stored tensors (with whatever each format needs to find the bytes)
 * behind `list`, `get` and the missing-name error. Subclasses read the bytes.
 */
export abstract class StoredTensorTable<T extends WeightInfo> {
  protected constructor(
    readonly file: string,
    protected readonly tensors: ReadonlyMap<string, T>,
    /** How error messages call the container ("file", "checkpoint"). */
    private readonly container: string,
  ) {}

  list(): WeightInfo[] {
    return [...this.tensors.values()].map(publicInfo);
  }

  get(name: string): WeightInfo | undefined {
    const tensor = this.tensors.get(name);
    return tensor === undefined ? undefined : publicInfo(tensor);
  }

  /** The stored tensor named `name`; INVALID_CHECKPOINT naming the file when there is none. */
  protected stored(name: string): T {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw checkpointError(this.file, `Expected a tensor named '${name}' but the ${this.container} has none`);
    return tensor;
  }
}

/** A count or offset in a header: a non-negative safe integer. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// Private: a copy without the format's bookkeeping, so callers cannot reach (or alter) it.
function publicInfo(tensor: WeightInfo): WeightInfo {
  return { name: tensor.name, dtype: tensor.dtype, shape: [...tensor.shape] };
}
