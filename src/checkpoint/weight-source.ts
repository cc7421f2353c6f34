/**
 * A read-only view of the tensors in a checkpoint, whatever its file format. Sources are lazy: listing is cheap and
 * each `readFloat32` reads (or computes) one tensor, so a 1.9 GB checkpoint is never held in memory whole.
 */

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
