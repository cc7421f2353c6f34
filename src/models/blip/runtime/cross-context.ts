import * as ort from 'onnxruntime-node';
import { floatData, floatTensor, type Feeds } from '../../../runtime/onnx-session.ts';
import { DecoderIO } from '../graph-names.ts';
import { cropKeys, cropValues, padRows, type KvArray } from './kv-layout.ts';

export type { KvArray } from './kv-layout.ts';

/** Cross K/V element types this runtime reads (manifest `crossKvPrecision`). */
export type KvPrecision = 'fp32' | 'int8';

/**
 * The cross-attention keys and values of every decoder layer for one image (captioning) or one question (VQA),
 * computed once by the cross K/V graph and read by every decode step of every row that looks at it.
 */
export interface CrossContext {
  /** Number of encoder positions M (image tokens, or question tokens). */
  length: number;
  /** Per layer, `[heads, headDim, M]` (keys are stored transposed). */
  keys: KvArray[];
  /** Per layer, `[heads, M, headDim]`. */
  values: KvArray[];
  /** int8 K/V only: per layer, `[heads, M]` scales of each key and each value token. */
  keyScales?: Float32Array[];
  valueScales?: Float32Array[];
  /** `[M]` additive mask: 0 for real positions, −10000 for padding. */
  bias: Float32Array;
}

/** The cross K/V graph's outputs, per layer: `[n, h, d, M]` keys, `[n, h, M, d]` values, `[n, h, 1, M]` scales (int8). */
export interface CrossOutputs {
  keys: KvArray[];
  values: KvArray[];
  keyScales?: Float32Array[];
  valueScales?: Float32Array[];
}

export const MASKED = -10000;

/** The cross K/V graph's outputs of a run, as typed arrays. */
export function readCrossOutputs(out: Record<string, ort.Tensor>, layers: number, precision: KvPrecision): CrossOutputs {
  const read = (name: (layer: number) => string) => Array.from({ length: layers }, (_, l) => out[name(l)]);
  if (precision === 'fp32') return { keys: read(DecoderIO.crossKey).map(floatData), values: read(DecoderIO.crossValue).map(floatData) };
  const codes = (tensor: ort.Tensor) => {
    if (tensor.type !== 'int8') throw new Error(`Expected int8 cross K/V from the cross K/V graph but received ${tensor.type}`);
    return tensor.data as Int8Array;
  };
  return {
    keys: read(DecoderIO.crossKey).map(codes),
    values: read(DecoderIO.crossValue).map(codes),
    keyScales: read(DecoderIO.crossKeyScale).map(floatData),
    valueScales: read(DecoderIO.crossValueScale).map(floatData),
  };
}

/**
 * Splits the batched outputs of the cross K/V graph into one context per item, dropping each item's padding so that a
 * context is the same whatever it was computed with. Views into the batched buffers are kept (no copy) when an item
 * has no padding.
 */
export function splitCrossContexts(out: CrossOutputs, count: number, paddedLength: number, lengths: readonly number[], heads: number, headDim: number): CrossContext[] {
  const perItem = heads * headDim * paddedLength;
  const perScales = heads * paddedLength;
  return Array.from({ length: count }, (_, item) => {
    const length = lengths[item];
    const cut = <T extends KvArray>(layer: T, per: number) => layer.subarray(item * per, (item + 1) * per) as T;
    const same = length === paddedLength;
    const keys = out.keys.map((layer) => (same ? cut(layer, perItem) : cropKeys(cut(layer, perItem), heads * headDim, paddedLength, length)));
    const values = out.values.map((layer) => (same ? cut(layer, perItem) : cropValues(cut(layer, perItem), heads, paddedLength, length, headDim)));
    // Scales are `[h, 1, M]`: rows of M, cropped like keys.
    const scales = (layers: Float32Array[] | undefined) => layers?.map((layer) => (same ? cut(layer, perScales) : cropKeys(cut(layer, perScales), heads, paddedLength, length)));
    const context: CrossContext = { length, keys, values, bias: new Float32Array(length) };
    if (out.keyScales) {
      context.keyScales = scales(out.keyScales);
      context.valueScales = scales(out.valueScales);
    }
    return context;
  });
}

/** The decoder's input names for the cross-attention tensors. */
export interface CrossNames {
  key: (layer: number) => string;
  value: (layer: number) => string;
  /** int8 K/V only. */
  keyScale?: (layer: number) => string;
  valueScale?: (layer: number) => string;
  bias: string;
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
 *
 * With `retained` (the decoder's batch), the batch owns the contexts it is given: once a context sits in a slot its
 * own arrays are dropped (`keys` and `values` become empty), so that each live context is held once. Later copies (a
 * row moved out of the vacated tail, a beam, another caption of the same image) go slot to slot, and a context whose
 * last slot is about to be overwritten, cut off or reallocated away (M changes, `clear`) gets its arrays back first
 * when `retained` says it is still wanted (registered, not released).
 */
export class CrossBatch {
  private capacity = 0;
  private length = 0;
  private keys: KvArray[] = [];
  private values: KvArray[] = [];
  /** int8 only: per layer `[capacity, h, 1, M]`. */
  private keyScales: Float32Array[] = [];
  private valueScales: Float32Array[] = [];
  private bias = new Float32Array(0);
  /** The context held by each slot (compared by identity). */
  private slots: Array<CrossContext | undefined> = [];
  /** The last `feeds`, valid until the buffers change (`reallocate`, `adopt`, `clear`). */
  private cachedFeeds: { n: number; names: CrossNames; feeds: Feeds } | undefined;

  /** `capacityHint`: the most rows expected; the first allocation reserves that many slots (see `grownCapacity`). */
  constructor(
    private readonly layers: number,
    private readonly heads: number,
    private readonly headDim: number,
    private readonly capacityHint = 0,
    private readonly precision: KvPrecision = 'fp32',
    private readonly retained?: (context: CrossContext) => boolean,
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
    const int8 = this.precision === 'int8';
    for (const ctx of contexts) {
      // TypedArray.set would silently convert codes to floats (or truncate floats to codes).
      if (hasKv(ctx) && (ctx.keys[0] instanceof Int8Array !== int8 || (ctx.keyScales !== undefined) !== int8)) throw new Error(`A context does not hold ${this.precision} cross K/V`);
      if (!hasKv(ctx) && !this.slots.includes(ctx)) throw new Error('A context has neither its own K/V nor a slot');
    }
    const n = contexts.length;
    if (n === 1 && this.capacity === 0 && this.retained && hasKv(contexts[0])) return this.adopt(contexts[0]);
    const length = contexts.reduce((max, ctx) => Math.max(max, ctx.length), 0);
    // Grow M when a longer context arrives; shrink it when it is at least twice what the rows need (VQA questions).
    if (length > this.length || length * 2 <= this.length) {
      const wanted = new Set(contexts);
      this.restoreLosing((ctx) => wanted.has(ctx) || this.isRetained(ctx), this.slots.length);
      this.reallocate(n > this.capacity ? this.grownCapacity(n) : this.capacity, length, 0);
    } else if (n > this.capacity) this.reallocate(this.grownCapacity(n), this.length, Math.min(this.slots.length, this.capacity));

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
    // Contexts that lose their last slot now (overwritten below, or in the cut tail) and are still wanted.
    this.restoreLosing((ctx) => !waiting.has(ctx) && this.isRetained(ctx), this.slots.length);
    // Where each context already is: kept slots are never written below, and tail slots (≥ n) never are.
    const sourceOf = new Map<CrossContext, number>();
    for (let s = 0; s < this.slots.length; s++) {
      const held = this.slots[s];
      if (held !== undefined && (s >= n || taken[s]) && !sourceOf.has(held)) sourceOf.set(held, s);
    }
    let free = 0;
    for (let i = 0; i < n; i++) {
      if (slotOf[i] >= 0) continue;
      while (taken[free]) free++;
      taken[free] = 1;
      slotOf[i] = free;
      const source = sourceOf.get(contexts[i]);
      if (source !== undefined && !hasKv(contexts[i])) this.copySlot(source, free, contexts[i]);
      else this.copyInto(free, contexts[i]);
    }
    // Forget the contexts of the vacated tail so they can be garbage-collected. Buffers shrink only in `clear`:
    // a running batch shrinks and grows again all the time, and each reallocation copies every slot.
    this.slots.length = Math.min(this.slots.length, n);
    if (this.retained) for (const ctx of contexts) dropKv(ctx);
    return slotOf;
  }

  /**
   * An empty owning batch given one context (a lone request, the usual start after idle) takes that context's arrays
   * as its one slot instead of allocating slots and copying into them: per blip-base caption that saves a 42.5 MB
   * allocation (four int8 slots) and an 11 MB copy, and the garbage collections their external memory triggers.
   * The context's own arrays are then dropped as after any `arrange`, so the batch is their only holder; a second row
   * grows the batch by the usual reallocation, which copies this slot once.
   */
  private adopt(ctx: CrossContext): Int32Array {
    this.capacity = 1;
    this.length = ctx.length;
    this.keys = [...ctx.keys];
    this.values = [...ctx.values];
    this.keyScales = ctx.keyScales ? [...ctx.keyScales] : [];
    this.valueScales = ctx.valueScales ? [...ctx.valueScales] : [];
    this.bias = Float32Array.from(ctx.bias);
    this.slots = [ctx];
    this.cachedFeeds = undefined;
    dropKv(ctx);
    return Int32Array.of(0);
  }

  /** A context's K/V as arrays: its own, or (once dropped) views of its slot, cropped copies if M is longer. */
  readable(ctx: CrossContext): CrossContext {
    if (hasKv(ctx)) return ctx;
    const s = this.slots.indexOf(ctx);
    if (s < 0) throw new Error('A context has neither its own K/V nor a slot');
    return { length: ctx.length, bias: ctx.bias, ...this.readSlot(s, ctx.length, false) };
  }

  private isRetained(ctx: CrossContext): boolean {
    return this.retained !== undefined && this.retained(ctx);
  }

  // Private: gives back their own arrays (copies of their slot) to the slot-only contexts among the first `end` slots
  // that `keep` selects; each context once.
  private restoreLosing(keep: (ctx: CrossContext) => boolean, end: number): void {
    if (!this.retained) return;
    for (let s = 0; s < end; s++) {
      const ctx = this.slots[s];
      if (ctx === undefined || hasKv(ctx) || !keep(ctx)) continue;
      Object.assign(ctx, this.readSlot(s, ctx.length, true));
    }
  }

  // Private: the K/V of slot `s` cropped to `length` positions; views when nothing is cropped and `copy` is false.
  private readSlot(s: number, length: number, copy: boolean): Pick<CrossContext, 'keys' | 'values' | 'keyScales' | 'valueScales'> {
    const { heads, headDim } = this;
    const M = this.length;
    const per = this.perSlot;
    const perScales = heads * M;
    const take = <T extends KvArray>(data: T, from: number, size: number): T => (copy ? data.slice(from, from + size) : data.subarray(from, from + size)) as T;
    const rows = <T extends KvArray>(data: T, r: number, size: number): T => (length === M ? take(data, s * size, size) : cropKeys(data.subarray(s * size, (s + 1) * size) as T, r, M, length));
    const keys = this.keys.slice(0, this.layers).map((layer) => rows(layer, heads * headDim, per));
    const values = this.values.slice(0, this.layers).map((layer) => (length === M ? take(layer, s * per, per) : cropValues(layer.subarray(s * per, (s + 1) * per), heads, M, length, headDim)));
    if (this.precision !== 'int8') return { keys, values };
    return { keys, values, keyScales: this.keyScales.map((layer) => rows(layer, heads, perScales)), valueScales: this.valueScales.map((layer) => rows(layer, heads, perScales)) };
  }

  // Private: slot `from` into slot `to` (same M, so the padding comes along).
  private copySlot(from: number, to: number, ctx: CrossContext): void {
    const per = this.perSlot;
    const perScales = this.heads * this.length;
    for (let layer = 0; layer < this.layers; layer++) {
      this.keys[layer].copyWithin(to * per, from * per, (from + 1) * per);
      this.values[layer].copyWithin(to * per, from * per, (from + 1) * per);
      if (this.precision !== 'int8') continue;
      this.keyScales[layer].copyWithin(to * perScales, from * perScales, (from + 1) * perScales);
      this.valueScales[layer].copyWithin(to * perScales, from * perScales, (from + 1) * perScales);
    }
    this.bias.copyWithin(to * this.length, from * this.length, (from + 1) * this.length);
    this.slots[to] = ctx;
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

  /**
   * The decoder inputs for the first `n` slots (views, not copies). The tensors are kept and handed out again while
   * the buffers and `n` stay the same (every step of a batch whose rows do not change): slots are written in place,
   * so the views stay valid, and a step saves creating four tensors per layer.
   */
  feeds(n: number, names: CrossNames): Feeds {
    const cached = this.cachedFeeds;
    if (cached && cached.n === n && cached.names === names) return cached.feeds;
    const feeds = this.createFeeds(n, names);
    this.cachedFeeds = { n, names, feeds };
    return feeds;
  }

  private createFeeds(n: number, names: CrossNames): Feeds {
    const { heads, headDim, length } = this;
    const per = this.perSlot;
    const feeds: Feeds = { [names.bias]: floatTensor(this.bias.subarray(0, n * length), [n, 1, 1, length]) };
    const tensor = (data: KvArray, dims: number[]) => (data instanceof Int8Array ? new ort.Tensor('int8', data, dims) : floatTensor(data, dims));
    for (let layer = 0; layer < this.layers; layer++) {
      feeds[names.key(layer)] = tensor(this.keys[layer].subarray(0, n * per), [n, heads, headDim, length]);
      feeds[names.value(layer)] = tensor(this.values[layer].subarray(0, n * per), [n, heads, length, headDim]);
      if (this.precision !== 'int8') continue;
      if (!names.keyScale || !names.valueScale) throw new Error('int8 cross K/V need the names of their scale inputs');
      feeds[names.keyScale(layer)] = floatTensor(this.keyScales[layer].subarray(0, n * heads * length), [n, heads, 1, length]);
      feeds[names.valueScale(layer)] = floatTensor(this.valueScales[layer].subarray(0, n * heads * length), [n, heads, 1, length]);
    }
    return feeds;
  }

  /** Frees the buffers (contexts still retained get their own arrays back first). */
  clear(): void {
    this.restoreLosing((ctx) => this.isRetained(ctx), this.slots.length);
    this.cachedFeeds = undefined;
    this.capacity = 0;
    this.length = 0;
    this.keys = [];
    this.values = [];
    this.keyScales = [];
    this.valueScales = [];
    this.bias = new Float32Array(0);
    this.slots = [];
  }

  // Private: new buffers of `capacity` slots and `length` positions, keeping the first `keep` slots when M is unchanged.
  private reallocate(capacity: number, length: number, keep: number): void {
    const old = { keys: this.keys, values: this.values, keyScales: this.keyScales, valueScales: this.valueScales };
    const oldBias = this.bias;
    const sameLength = length === this.length;
    this.cachedFeeds = undefined;
    this.capacity = capacity;
    this.length = length;
    const per = this.perSlot;
    const perScales = this.heads * length;
    const int8 = this.precision === 'int8';
    const buffers = (size: number) => Array.from({ length: this.layers }, () => (int8 ? new Int8Array(size) : new Float32Array(size)));
    this.keys = buffers(capacity * per);
    this.values = buffers(capacity * per);
    this.keyScales = int8 ? Array.from({ length: this.layers }, () => new Float32Array(capacity * perScales)) : [];
    this.valueScales = int8 ? Array.from({ length: this.layers }, () => new Float32Array(capacity * perScales)) : [];
    this.bias = new Float32Array(capacity * length).fill(MASKED);
    if (!sameLength || keep === 0) {
      this.slots = [];
      return;
    }
    const kept = Math.min(keep, capacity);
    for (let layer = 0; layer < this.layers; layer++) {
      this.keys[layer].set(old.keys[layer].subarray(0, kept * per));
      this.values[layer].set(old.values[layer].subarray(0, kept * per));
      if (!int8) continue;
      this.keyScales[layer].set(old.keyScales[layer].subarray(0, kept * perScales));
      this.valueScales[layer].set(old.valueScales[layer].subarray(0, kept * perScales));
    }
    this.bias.set(oldBias.subarray(0, kept * length));
    this.slots.length = Math.min(this.slots.length, kept);
  }

  // Private: writes `ctx` into slot `s`, padding it to M with zeros and masked positions.
  private copyInto(s: number, ctx: CrossContext): void {
    const { heads, headDim, length } = this;
    const base = s * this.perSlot;
    for (let layer = 0; layer < this.layers; layer++) {
      padRows(this.keys[layer], base, ctx.keys[layer], heads * headDim, ctx.length, length);
      const values = this.values[layer];
      if (ctx.length === length) values.set(ctx.values[layer], base);
      else {
        for (let h = 0; h < heads; h++) {
          values.set(ctx.values[layer].subarray(h * ctx.length * headDim, (h + 1) * ctx.length * headDim), base + h * length * headDim);
          values.fill(0, base + (h * length + ctx.length) * headDim, base + (h + 1) * length * headDim);
        }
      }
      if (this.precision !== 'int8') continue;
      // Padded positions get scale 0: masked anyway, and a zero scale keeps them out of P·V's quantization range.
      padRows(this.keyScales[layer], s * heads * length, (ctx.keyScales as Float32Array[])[layer], heads, ctx.length, length);
      padRows(this.valueScales[layer], s * heads * length, (ctx.valueScales as Float32Array[])[layer], heads, ctx.length, length);
    }
    this.bias.set(ctx.bias, s * length);
    this.bias.fill(MASKED, s * length + ctx.length, (s + 1) * length);
    this.slots[s] = ctx;
  }
}

/** Whether a context still holds its own K/V arrays (a batch with `retained` drops them once they are in a slot). */
export function hasKv(ctx: CrossContext): boolean {
  return ctx.keys.length > 0;
}

/** Bytes of a context's own K/V arrays (zero once its batch dropped them). */
export function kvBytes(ctx: CrossContext): number {
  const sum = (layers: KvArray[] | undefined) => (layers ?? []).reduce((bytes, layer) => bytes + layer.byteLength, 0);
  return sum(ctx.keys) + sum(ctx.values) + sum(ctx.keyScales) + sum(ctx.valueScales);
}

// Private: the batch holds the context's K/V in a slot now; drop its own arrays.
function dropKv(ctx: CrossContext): void {
  ctx.keys = [];
  ctx.values = [];
  if (ctx.keyScales) ctx.keyScales = [];
  if (ctx.valueScales) ctx.valueScales = [];
}
