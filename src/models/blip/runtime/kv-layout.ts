/** Float keys/values, or int8 codes (whose scales are kept beside them). */
export type KvArray = Float32Array | Int8Array;

/**
 * Layout helpers of the cross-attention K/V (cross-context.ts): cropping a padded context to its length and padding
 * one into a longer slot. Keys are stored `[rows, M]` (rows = heads × headDim), values `[heads, M, headDim]`.
 */

/** `[rows, padded]` → `[rows, length]`. */
export function cropKeys<T extends KvArray>(data: T, rows: number, padded: number, length: number): T {
  const out = like(data, rows * length);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * padded, r * padded + length), r * length);
  return out;
}

/** `[heads, padded, d]` → `[heads, length, d]`. */
export function cropValues<T extends KvArray>(data: T, heads: number, padded: number, length: number, headDim: number): T {
  const out = like(data, heads * length * headDim);
  for (let h = 0; h < heads; h++) out.set(data.subarray(h * padded * headDim, (h * padded + length) * headDim), h * length * headDim);
  return out;
}

/** `source [rows, from]` into `target` at `base` as `[rows, to]`, the extra columns zero. */
export function padRows(target: KvArray, base: number, source: KvArray, rows: number, from: number, to: number): void {
  if (from === to) {
    target.set(source, base);
    return;
  }
  for (let row = 0; row < rows; row++) {
    target.set(source.subarray(row * from, (row + 1) * from), base + row * to);
    target.fill(0, base + row * to + from, base + (row + 1) * to);
  }
}

function like<T extends KvArray>(data: T, size: number): T {
  return (data instanceof Int8Array ? new Int8Array(size) : new Float32Array(size)) as T;
}
