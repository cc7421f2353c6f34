import { floatTensor, type Feeds } from '../../../runtime/onnx-session.ts';

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
 * The cross-attention inputs of the decoder's batch rows, kept from one decoder call to the next: per layer
 * `[B, h, d, M]` keys and `[B, h, M, d]` values, and the `[B, 1, 1, M]` bias. Slot `s` holds the context of batch row
 * `s`; contexts shorter than `M` are padded with masked positions.
 *
 * A base-size context is 42.5 MB (12 layers × 2 × 577 × 768 floats), so restacking a 32-row batch whenever a row
 * leaves or joins costs seconds (measured 5.1 s for 32 rows, against 0.5 s for the decode step itself). `arrange`
 * therefore keeps every row whose context is already in some slot there, and copies only the contexts of rows that
 * found no slot: a step in which rows only leave or beams reorder copies at most the rows moved out of the vacated
 * tail, and an admitted row copies its own context once.
 */
export class CrossBatch {
  private capacity = 0;
  private length = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private bias = new Float32Array(0);
  /** The context held by each slot (compared by identity). */
  private slots: Array<CrossContext | undefined> = [];

  /** `capacityHint`: the most rows expected; the first allocation reserves that many slots (see `grownCapacity`). */
  constructor(
    private readonly layers: number,
    private readonly heads: number,
    private readonly headDim: number,
    private readonly capacityHint = 0,
  ) {}

  /** Floats of one slot in one layer's keys (or values). */
  private get perSlot(): number {
    return this.heads * this.headDim * this.length;
  }

  /**
   * Lays out `contexts[i]`, the context of row i, and returns the slot of each row (a permutation of 0…n−1): the batch
   * row that row i must occupy in the next decoder call.
   */
  arrange(contexts: readonly CrossContext[]): Int32Array {
    const n = contexts.length;
    const length = contexts.reduce((max, ctx) => Math.max(max, ctx.length), 0);
    // Grow M when a longer context arrives; shrink it when it is at least twice what the rows need (VQA questions).
    if (length > this.length || length * 2 <= this.length) this.reallocate(n > this.capacity ? this.grownCapacity(n) : this.capacity, length, 0);
    else if (n > this.capacity) this.reallocate(this.grownCapacity(n), this.length, Math.min(this.slots.length, this.capacity));

    const slotOf = new Int32Array(n).fill(-1);
    const taken = new Uint8Array(n);
    const waiting = new Map<CrossContext, number[]>();
    for (let i = n - 1; i >= 0; i--) {
      const list = waiting.get(contexts[i]);
      if (list) list.push(i);
      else waiting.set(contexts[i], [i]);
    }
    for (let s = 0; s < Math.min(n, this.slots.length); s++) {
      const held = this.slots[s];
      const row = held === undefined ? undefined : waiting.get(held)?.pop();
      if (row === undefined) continue;
      slotOf[row] = s;
      taken[s] = 1;
    }
    let free = 0;
    for (let i = 0; i < n; i++) {
      if (slotOf[i] >= 0) continue;
      while (taken[free]) free++;
      taken[free] = 1;
      slotOf[i] = free;
      this.copyInto(free, contexts[i]);
    }
    // Forget the contexts of the vacated tail so they can be garbage-collected. Buffers shrink only in `clear`:
    // a running batch shrinks and grows again all the time, and each reallocation copies every slot.
    this.slots.length = Math.min(this.slots.length, n);
    return slotOf;
  }

  /**
   * With a hint, the buffers go straight to it: the kernel maps a page only when it is first written, so unused
   * slots cost address space, not memory, while every growth copies all slots into freshly faulted pages (measured
   * with blip-base on this project's VM: 1.1 s to grow 8 → 16 slots, against 20 ms to fill one reused slot).
   */
  private grownCapacity(n: number): number {
    if (this.capacityHint >= n) return this.capacityHint;
    return Math.max(n, 4, 2 * this.capacity);
  }

  /** The decoder inputs for the first `n` slots (views, not copies). */
  feeds(n: number, names: { key: (layer: number) => string; value: (layer: number) => string; bias: string }): Feeds {
    const { heads, headDim, length } = this;
    const per = this.perSlot;
    const feeds: Feeds = { [names.bias]: floatTensor(this.bias.subarray(0, n * length), [n, 1, 1, length]) };
    for (let layer = 0; layer < this.layers; layer++) {
      feeds[names.key(layer)] = floatTensor(this.keys[layer].subarray(0, n * per), [n, heads, headDim, length]);
      feeds[names.value(layer)] = floatTensor(this.values[layer].subarray(0, n * per), [n, heads, length, headDim]);
    }
    return feeds;
  }

  /** Frees the buffers. */
  clear(): void {
    this.capacity = 0;
    this.length = 0;
    this.keys = [];
    this.values = [];
    this.bias = new Float32Array(0);
    this.slots = [];
  }

  // Private: new buffers of `capacity` slots and `length` positions, keeping the first `keep` slots when M is unchanged.
  private reallocate(capacity: number, length: number, keep: number): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const oldBias = this.bias;
    const sameLength = length === this.length;
    this.capacity = capacity;
    this.length = length;
    const per = this.perSlot;
    this.keys = Array.from({ length: this.layers }, () => new Float32Array(capacity * per));
    this.values = Array.from({ length: this.layers }, () => new Float32Array(capacity * per));
    this.bias = new Float32Array(capacity * length).fill(MASKED);
    if (!sameLength || keep === 0) {
      this.slots = [];
      return;
    }
    const kept = Math.min(keep, capacity);
    for (let layer = 0; layer < this.layers; layer++) {
      this.keys[layer].set(oldKeys[layer].subarray(0, kept * per));
      this.values[layer].set(oldValues[layer].subarray(0, kept * per));
    }
    this.bias.set(oldBias.subarray(0, kept * length));
    this.slots.length = Math.min(this.slots.length, kept);
  }

  // Private: writes `ctx` into slot `s`, padding it to M with zeros and masked positions.
  private copyInto(s: number, ctx: CrossContext): void {
    const { heads, headDim, length } = this;
    const per = this.perSlot;
    const base = s * per;
    for (let layer = 0; layer < this.layers; layer++) {
      const keys = this.keys[layer];
      const values = this.values[layer];
      if (ctx.length === length) {
        keys.set(ctx.keys[layer], base);
        values.set(ctx.values[layer], base);
        continue;
      }
      for (let row = 0; row < heads * headDim; row++) {
        keys.set(ctx.keys[layer].subarray(row * ctx.length, (row + 1) * ctx.length), base + row * length);
        keys.fill(0, base + row * length + ctx.length, base + (row + 1) * length);
      }
      for (let h = 0; h < heads; h++) {
        values.set(ctx.values[layer].subarray(h * ctx.length * headDim, (h + 1) * ctx.length * headDim), base + h * length * headDim);
        values.fill(0, base + (h * length + ctx.length) * headDim, base + (h + 1) * length * headDim);
      }
    }
    this.bias.set(ctx.bias, s * length);
    this.bias.fill(MASKED, s * length + ctx.length, (s + 1) * length);
    this.slots[s] = ctx;
  }
}
