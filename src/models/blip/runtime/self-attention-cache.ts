import type * as ort from 'onnxruntime-node';
import { floatData, floatTensor } from '../../../runtime/onnx-session.ts';

/**
 * The decoder's self-attention cache between two calls, and the two reshapes continuous batching needs: cutting
 * leading columns no live row attends to (`compactPast`) and putting a newcomer's prompt cache beside the running
 * rows' cache (`mergePasts`). Everything here copies tensors; the decoder decides when.
 */

/**
 * The self-attention cache the next call continues from: per layer `[rows, heads, length, headDim]` keys and values,
 * and per row its mask over the `length` columns (1 = attend). Rows and columns are the graph's, not the caller's.
 */
export interface Past {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  masks: Uint8Array;
  rows: number;
  length: number;
}

/** The shape of one cache row. */
export interface CacheDims {
  heads: number;
  headDim: number;
}

/**
 * Leading cache columns that no live row attends to any more (their rows left) are cut once there are at least this
 * many and they are at least a quarter of the cache. The graph copies the whole cache at every step (Concat), so a
 * cut, which copies it once, pays for itself within a few steps; cutting less often bounds the waste to a third.
 */
export const COMPACT_MIN_COLUMNS = 8;

/**
 * The cache the next call gathers from. Leading columns that none of `parentSlots` attends to are cut when they are
 * worth a copy (COMPACT_MIN_COLUMNS), keeping only the rows named. Returns it, and the row of every previous slot.
 */
export function compactPast(past: Past, parentSlots: readonly number[], dims: CacheDims): { past: Past; rowOf: Int32Array } {
  const identity = Int32Array.from({ length: past.rows }, (_, i) => i);
  const { length, masks } = past;
  const named = [...new Set(parentSlots)].sort((a, b) => a - b);
  let dead = length;
  for (const slot of named) {
    const first = masks.subarray(slot * length, (slot + 1) * length).indexOf(1);
    dead = Math.min(dead, first < 0 ? length : first);
  }
  if (dead < COMPACT_MIN_COLUMNS || dead * 4 < length) return { past, rowOf: identity };

  const rowOf = new Int32Array(past.rows).fill(-1);
  named.forEach((slot, r) => (rowOf[slot] = r));
  const kept = length - dead;
  const cut = (tensor: ort.Tensor): ort.Tensor => {
    const { heads, headDim } = dims;
    const data = floatData(tensor);
    const out = new Float32Array(named.length * heads * kept * headDim);
    named.forEach((slot, r) => {
      for (let h = 0; h < heads; h++) {
        const from = ((slot * heads + h) * length + dead) * headDim;
        out.set(data.subarray(from, from + kept * headDim), (r * heads + h) * kept * headDim);
      }
    });
    return floatTensor(out, [named.length, heads, kept, headDim]);
  };
  const cutMasks = new Uint8Array(named.length * kept);
  named.forEach((slot, r) => cutMasks.set(masks.subarray(slot * length + dead, (slot + 1) * length), r * kept));
  return { past: { keys: past.keys.map(cut), values: past.values.map(cut), masks: cutMasks, rows: named.length, length: kept }, rowOf };
}

/**
 * Two caches side by side (`a`'s rows first), as long as the longer one: the shorter one's rows are left-padded with
 * zero keys and values under masked columns.
 */
export function mergePasts(a: Past, b: Past, dims: CacheDims): Past {
  const { heads, headDim } = dims;
  const length = Math.max(a.length, b.length);
  const rows = a.rows + b.rows;
  const place = (source: Float32Array, sourceLength: number, sourceRows: number, target: Float32Array, firstRow: number) => {
    if (sourceLength === length) {
      target.set(source, firstRow * heads * length * headDim);
      return;
    }
    const pad = length - sourceLength;
    for (let r = 0; r < sourceRows; r++) {
      for (let h = 0; h < heads; h++) {
        const from = (r * heads + h) * sourceLength * headDim;
        target.set(source.subarray(from, from + sourceLength * headDim), (((firstRow + r) * heads + h) * length + pad) * headDim);
      }
    }
  };
  const merge = (x: ort.Tensor, y: ort.Tensor): ort.Tensor => {
    const out = new Float32Array(rows * heads * length * headDim);
    place(floatData(x), a.length, a.rows, out, 0);
    place(floatData(y), b.length, b.rows, out, a.rows);
    return floatTensor(out, [rows, heads, length, headDim]);
  };
  const masks = new Uint8Array(rows * length);
  for (let r = 0; r < a.rows; r++) masks.set(a.masks.subarray(r * a.length, (r + 1) * a.length), r * length + length - a.length);
  for (let r = 0; r < b.rows; r++) masks.set(b.masks.subarray(r * b.length, (r + 1) * b.length), (a.rows + r) * length + length - b.length);
  return {
    keys: a.keys.map((key, layer) => merge(key, b.keys[layer])),
    values: a.values.map((value, layer) => merge(value, b.values[layer])),
    masks,
    rows,
    length,
  };
}
