/**
 * The cross-attention keys and values of every decoder layer for one image (captioning) or one question (VQA),
 * computed once by the cross K/V graph and read by every decode step of every row that looks at it.
 */
export interface CrossContext {
  /** Number of encoder positions M (image tokens, or question tokens). */
  length: number;
  /** Per layer, `[heads, headDim, M]` (keys are stored transposed). */
  keys: Float32Array[];
  /** Per layer, `[heads, M, headDim]`. */
  values: Float32Array[];
  /** `[M]` additive mask: 0 for real positions, −10000 for padding. */
  bias: Float32Array;
}

export const MASKED = -10000;

/**
 * Splits the batched outputs of the cross K/V graph (`[n, h, d, M]` keys and `[n, h, M, d]` values per layer) into one
 * context per item, dropping each item's padding so that a context is the same whatever it was computed with.
 * Views into the batched buffers are kept (no copy) when an item has no padding.
 */
export function splitCrossContexts(
  keys: Float32Array[],
  values: Float32Array[],
  count: number,
  paddedLength: number,
  lengths: readonly number[],
  heads: number,
  headDim: number,
): CrossContext[] {
  const perItem = heads * headDim * paddedLength;
  return Array.from({ length: count }, (_, item) => {
    const length = lengths[item];
    const slice = (layer: Float32Array) => layer.subarray(item * perItem, (item + 1) * perItem);
    if (length === paddedLength) {
      return { length, keys: keys.map(slice), values: values.map(slice), bias: new Float32Array(length) };
    }
    return {
      length,
      keys: keys.map((layer) => cropKeys(slice(layer), heads * headDim, paddedLength, length)),
      values: values.map((layer) => cropValues(slice(layer), heads, paddedLength, length, headDim)),
      bias: new Float32Array(length),
    };
  });
}

/** `[rows, padded]` → `[rows, length]`. */
function cropKeys(data: Float32Array, rows: number, padded: number, length: number): Float32Array {
  const out = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * padded, r * padded + length), r * length);
  return out;
}

/** `[heads, padded, d]` → `[heads, length, d]`. */
function cropValues(data: Float32Array, heads: number, padded: number, length: number, headDim: number): Float32Array {
  const out = new Float32Array(heads * length * headDim);
  for (let h = 0; h < heads; h++) out.set(data.subarray(h * padded * headDim, (h * padded + length) * headDim), h * length * headDim);
  return out;
}

/**
 * Lays the contexts of `rows` side by side as decoder inputs, padding shorter contexts to the longest with masked
 * positions. Returns per-layer `[B, h, d, M]` keys, `[B, h, M, d]` values and the `[B, 1, 1, M]` bias.
 */
export function stackCrossContexts(
  contexts: readonly CrossContext[],
  rows: readonly number[],
  heads: number,
  headDim: number,
): { length: number; keys: Float32Array[]; values: Float32Array[]; bias: Float32Array } {
  const length = Math.max(...rows.map((r) => contexts[r].length));
  const layers = contexts[rows[0]].keys.length;
  const per = heads * headDim * length;
  const keys = Array.from({ length: layers }, () => new Float32Array(rows.length * per));
  const values = Array.from({ length: layers }, () => new Float32Array(rows.length * per));
  const bias = new Float32Array(rows.length * length).fill(MASKED);
  rows.forEach((r, b) => {
    const ctx = contexts[r];
    bias.set(ctx.bias, b * length);
    for (let layer = 0; layer < layers; layer++) {
      if (ctx.length === length) {
        keys[layer].set(ctx.keys[layer], b * per);
        values[layer].set(ctx.values[layer], b * per);
        continue;
      }
      for (let row = 0; row < heads * headDim; row++) {
        keys[layer].set(ctx.keys[layer].subarray(row * ctx.length, (row + 1) * ctx.length), b * per + row * length);
      }
      for (let h = 0; h < heads; h++) {
        values[layer].set(ctx.values[layer].subarray(h * ctx.length * headDim, (h + 1) * ctx.length * headDim), b * per + h * length * headDim);
      }
    }
  });
  return { length, keys, values, bias };
}
