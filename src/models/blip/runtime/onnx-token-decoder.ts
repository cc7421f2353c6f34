import type * as ort from 'onnxruntime-node';
import { DecoderIO } from '../graph-names.ts';
import { floatData, floatTensor, int64Tensor, type Feeds, type OnnxSession } from '../../../runtime/onnx-session.ts';
import { CrossBatch, kvBytes, MASKED, type CrossContext, type CrossNames, type KvPrecision } from './cross-context.ts';
import { SelfAttentionCache, type NewColumns } from './self-attention-cache.ts';
import { keepRowsInPlace } from './row-moves.ts';
import type { PromptRow, TokenDecoder } from '../../../generation/token-decoder.ts';

export interface DecoderDims {
  layers: number;
  heads: number;
  headDim: number;
  vocabSize: number;
  padTokenId: number;
  /** The element type of the cross-attention K/V the graph reads (manifest `crossKvPrecision`); default fp32. */
  crossKv?: KvPrecision;
}

export interface DecoderOptions {
  /**
   * Rows the decoder is expected to hold at most (the engine's batch bound): the cross-attention and self-attention
   * buffers grow up to it at once.
   */
  capacityHint?: number;
}

const CROSS_NAMES: CrossNames = {
  key: DecoderIO.crossKey,
  value: DecoderIO.crossValue,
  keyScale: DecoderIO.crossKeyScale,
  valueScale: DecoderIO.crossValueScale,
  bias: DecoderIO.crossBias,
};

/** One row of a decoder call of width 1: the cache row it continues (`source`; −1: none), and its token. */
interface StepRow {
  source: number;
  token: number;
  position: number;
  context: number;
}

/**
 * `TokenDecoder` over the decoder step graph. It keeps, per live row, its next position id and its context, and the
 * self-attention cache in a `SelfAttentionCache`: buffers the graph reads whole and never copies, into which the
 * decoder writes each call's new keys and values, and in which it reorders rows (beams) in place before a call.
 * Masked cache positions get exactly zero attention weight, so rows with different prompt lengths, admitted at
 * different steps, compute what they would compute alone.
 *
 * Continuous batching (`step`): an admitted row with a one-token prompt (every VQA row, captions without a prompt) is
 * just one more row of the step, whose mask hides the whole cache. A longer prompt is first run alone (all but its
 * last token, one extra call for the rows admitted together), and its keys and values are written into free rows of
 * the cache, left-padded with masked columns (or the cache grows to its length, masked for the running rows); its
 * last token then joins the step. The step stays one token wide, so running rows never pay for a newcomer's prompt.
 *
 * Batch rows are not kept in the caller's row order: each row is placed in the slot of the cross-attention buffers
 * that already holds its context (see `CrossBatch`), among those preferably the one its cache row is in, and logits
 * are returned in the caller's order.
 *
 * Contexts are registered up front (constructor) or while decoding (`addContext`), and named by index. The decoder
 * keeps its own record of each one (the caller's object is not changed): once a context has been copied into a slot
 * of the batch, that record drops its arrays and the slot is the only copy the decoder holds (see `CrossBatch`), so
 * a caller that lets go of the context it registered holds each live context once.
 */
export class OnnxTokenDecoder implements TokenDecoder {
  readonly vocabSize: number;
  private readonly contexts = new Map<number, CrossContext>();
  private readonly ids = new Map<CrossContext, number>();
  private readonly released = new Set<number>();
  private nextContextId = 0;
  private readonly cross: CrossBatch;
  /** Batch row (slot) of each of the caller's rows of the last call. */
  private slotOf: Int32Array = new Int32Array(0);
  /** Per batch row of the last call: its context id and its next position id. */
  private rowContexts: number[] = [];
  private rowPositions: Int32Array = new Int32Array(0);
  private readonly cache: SelfAttentionCache;
  private broken: Error | undefined;

  constructor(
    private readonly session: OnnxSession,
    private readonly dims: DecoderDims,
    contexts: readonly CrossContext[] = [],
    options: DecoderOptions = {},
  ) {
    this.vocabSize = dims.vocabSize;
    // A context still registered and not released must survive losing its slot.
    const retained = (context: CrossContext) => {
      const id = this.ids.get(context);
      return id !== undefined && !this.released.has(id);
    };
    this.cross = new CrossBatch(dims.layers, dims.heads, dims.headDim, options.capacityHint, dims.crossKv, retained);
    this.cache = new SelfAttentionCache(dims, options.capacityHint);
    for (const context of contexts) this.addContext(context);
  }

  /** Rows of the last call. */
  get rows(): number {
    return this.slotOf.length;
  }

  /** Length of the self-attention cache (padding and masked columns included, unused capacity not). */
  get cacheLength(): number {
    return this.cache.length;
  }

  /** Columns the self-attention cache's buffers hold: what the graph reads per row and layer. */
  get cacheCapacity(): number {
    return this.cache.capacity;
  }

  /** Registered contexts (released ones still read by a live row included). */
  get contextCount(): number {
    return this.contexts.size;
  }

  /** Bytes of context K/V held outside the batch's slots: contexts registered but not yet copied into a slot. */
  get contextBytesOutsideBatch(): number {
    let bytes = 0;
    for (const context of this.contexts.values()) bytes += kvBytes(context);
    return bytes;
  }

  /** Registers an encoder context; returns its index for `PromptRow.context`. */
  addContext(context: CrossContext): number {
    const id = this.nextContextId++;
    // Our own record: the batch drops its arrays once they are in a slot, which must not touch the caller's object.
    const own: CrossContext = { ...context };
    this.contexts.set(id, own);
    this.ids.set(own, id);
    return id;
  }

  /**
   * Says that no row will be admitted with this context any more: it is forgotten as soon as no live row reads it
   * (rows of a request removed between two steps may still be fed once).
   */
  releaseContext(id: number): void {
    this.released.add(id);
    this.forgetReleased();
  }

  /** Drops every row with its caches and frees the cross-attention buffers (registered contexts stay). */
  clear(): void {
    this.slotOf = new Int32Array(0);
    this.rowContexts = [];
    this.rowPositions = new Int32Array(0);
    this.cache.clear();
    this.cross.clear();
    this.forgetReleased();
  }

  start(rows: ReadonlyArray<PromptRow>): Promise<Float32Array> {
    this.assertUsable();
    this.clear();
    return this.step([], [], rows);
  }

  next(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>): Promise<Float32Array> {
    return this.step(parents, tokens, []);
  }

  async step(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>, admitted: ReadonlyArray<PromptRow>): Promise<Float32Array> {
    this.assertUsable();
    if (parents.length !== tokens.length) throw new Error(`parents (${parents.length}) and tokens (${tokens.length}) differ in length`);
    const previousRows = this.slotOf.length;
    for (const p of parents) {
      if (!Number.isInteger(p) || p < 0 || p >= previousRows) throw new Error(`parent ${p} is not a row of the previous step (0..${previousRows - 1})`);
    }
    for (const row of admitted) {
      if (row.tokens.length === 0) throw new Error('Every row needs at least one prompt token');
      if (!this.contexts.has(row.context) || this.released.has(row.context)) throw new Error(`context ${row.context} is not registered`);
    }
    if (parents.length === 0) this.clear();
    if (parents.length + admitted.length === 0) return new Float32Array(0);
    try {
      return parents.length === 0 ? await this.startRows(admitted) : await this.continueRows(parents, tokens, admitted);
    } catch (error) {
      this.broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  dispose(): void {
    this.contexts.clear();
    this.ids.clear();
    this.clear();
    this.released.clear();
    this.broken = new Error('This decoder was disposed');
  }

  /** Every row starts from its prompt: one call as wide as the longest prompt, shorter ones left-padded and masked. */
  private async startRows(rows: ReadonlyArray<PromptRow>): Promise<Float32Array> {
    const slotOf = this.cross.arrange(rows.map((row) => this.contextOf(row.context)));
    const { logits, columns } = await this.runPrompts(rows, slotOf, this.cross);
    this.cache.reset(columns);
    this.commit(
      slotOf,
      rows.map((row) => row.context),
      rows.map((row) => row.tokens.length),
    );
    return reorderRows(logits, slotOf, this.vocabSize);
  }

  /** Running rows take one token each; admitted rows join (see the class comment); one call of width 1. */
  private async continueRows(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>, admitted: ReadonlyArray<PromptRow>): Promise<Float32Array> {
    const parentSlots = parents.map((p) => this.slotOf[p]);
    const cache = this.cache;
    cache.compact(parentSlots);
    const rows: StepRow[] = parents.map((_, i) => {
      const slot = parentSlots[i];
      return { source: slot, token: tokens[i], position: this.rowPositions[slot], context: this.rowContexts[slot] };
    });
    const long = admitted.flatMap((row, i) => (row.tokens.length > 1 ? [i] : []));
    let prefilledRowOf = new Int32Array(0);
    if (long.length > 0) {
      // All but the last prompt token, alone; then those keys and values go into free rows of the cache.
      const heads = long.map((i) => ({ context: admitted[i].context, tokens: admitted[i].tokens.slice(0, -1) }));
      const prefillCross = new CrossBatch(this.dims.layers, this.dims.heads, this.dims.headDim, 0, this.dims.crossKv);
      // The running batch may hold a context only in its slot: the prefill reads it there (views, no copy).
      const order = prefillCross.arrange(heads.map((row) => this.cross.readable(this.contextOf(row.context))));
      const prefilled = (await this.runPrompts(heads, order, prefillCross)).columns;
      prefillCross.clear();
      const rowOf = cache.admit(prefilled, parentSlots);
      prefilledRowOf = order.map((row) => rowOf[row]);
    }
    let j = 0;
    for (const row of admitted) {
      const last = row.tokens.length - 1;
      // A one-token prompt sees none of the cache.
      rows.push({ source: last > 0 ? prefilledRowOf[j++] : -1, token: row.tokens[last], position: last, context: row.context });
    }

    const slotOf = this.cross.arrange(rows.map((row) => this.contextOf(row.context)));
    // Rows of one context may take any of its slots: each keeps its cache row where it can, so beams move only when
    // a parent has several children.
    keepRowsInPlace(
      slotOf,
      rows.map((row) => row.context),
      rows.map((row) => row.source),
    );
    const batch = rows.length;
    const ids = new Array<number>(batch);
    const positions = new Array<number>(batch);
    const sources = new Int32Array(batch);
    rows.forEach((row, i) => {
      const s = slotOf[i];
      ids[s] = row.token;
      positions[s] = row.position;
      sources[s] = row.source;
    });
    cache.reorder(sources);
    // Each row sees the cache columns its mask names, and its own new position (the last column).
    const capacity = cache.capacity;
    const total = capacity + 1;
    const bias = new Float32Array(batch * total);
    for (let s = 0; s < batch; s++) {
      const mask = cache.mask(s);
      for (let k = 0; k < capacity; k++) bias[s * total + k] = mask[k] === 1 ? 0 : MASKED;
    }
    const out = await this.run({ ids, positions, width: 1, bias, batch, past: cache.feeds(batch), cross: this.cross });
    cache.append({ ...out.columns, masks: new Uint8Array(batch).fill(1) });
    this.commit(
      slotOf,
      rows.map((row) => row.context),
      rows.map((row) => row.position + 1),
    );
    return reorderRows(out.logits, slotOf, this.vocabSize);
  }

  /** Prompts from an empty cache, in batch rows `slotOf` of `cross`: returns the last positions' logits (slot order). */
  private async runPrompts(rows: ReadonlyArray<PromptRow>, slotOf: Int32Array, cross: CrossBatch): Promise<{ logits: Float32Array; columns: NewColumns }> {
    const batch = rows.length;
    const width = Math.max(...rows.map((row) => row.tokens.length));
    const ids = new Array<number>(batch * width).fill(this.dims.padTokenId);
    const positions = new Array<number>(batch * width).fill(0);
    const masks = new Uint8Array(batch * width);
    rows.forEach((row, i) => {
      const s = slotOf[i];
      const offset = width - row.tokens.length;
      row.tokens.forEach((token, k) => {
        ids[s * width + offset + k] = token;
        positions[s * width + offset + k] = k;
        masks[s * width + offset + k] = 1;
      });
    });
    // The past is one masked column of zeros, not an empty one: ONNX Runtime's batched float MatMul over K = 0 zeroes
    // only the first matrix of its output (onnxruntime's cpu/math/matmul.cc), so P·V over an empty past is not safe.
    // Query q of a row sees its own prompt positions up to q (columns 1…width).
    const total = width + 1;
    const bias = new Float32Array(batch * width * total).fill(MASKED);
    for (let s = 0; s < batch; s++) {
      for (let q = 0; q < width; q++) {
        for (let j = 0; j <= q; j++) if (masks[s * width + j] === 1) bias[(s * width + q) * total + 1 + j] = 0;
      }
    }
    const { heads, headDim, layers } = this.dims;
    const none = floatTensor(new Float32Array(batch * heads * headDim), [batch, heads, 1, headDim]);
    const past = { keys: new Array<ort.Tensor>(layers).fill(none), values: new Array<ort.Tensor>(layers).fill(none) };
    const out = await this.run({ ids, positions, width, bias, batch, past, cross });
    return { logits: out.logits, columns: { ...out.columns, masks } };
  }

  private async run(call: {
    ids: number[];
    positions: number[];
    width: number;
    bias: Float32Array;
    batch: number;
    past: { keys: ort.Tensor[]; values: ort.Tensor[] };
    cross: CrossBatch;
  }): Promise<{ logits: Float32Array; columns: Omit<NewColumns, 'masks'> }> {
    const { ids, positions, width, bias, batch, past } = call;
    const total = bias.length / (batch * width);
    const { layers } = this.dims;
    const feeds: Feeds = {
      [DecoderIO.inputIds]: int64Tensor(ids, [batch, width]),
      [DecoderIO.positionIds]: int64Tensor(positions, [batch, width]),
      [DecoderIO.selfBias]: floatTensor(bias, [batch, 1, width, total]),
      ...call.cross.feeds(batch, CROSS_NAMES),
    };
    for (let layer = 0; layer < layers; layer++) {
      feeds[DecoderIO.pastKey(layer)] = past.keys[layer];
      feeds[DecoderIO.pastValue(layer)] = past.values[layer];
    }
    const out = await this.session.run(feeds);
    return {
      logits: floatData(out[DecoderIO.logits]),
      columns: {
        keys: Array.from({ length: layers }, (_, layer) => out[DecoderIO.newKey(layer)]),
        values: Array.from({ length: layers }, (_, layer) => out[DecoderIO.newValue(layer)]),
        rows: batch,
        width,
      },
    };
  }

  // Private: the state after a call; `contexts` and `nextPositions` are in the caller's row order.
  private commit(slotOf: Int32Array, contexts: readonly number[], nextPositions: readonly number[]): void {
    this.slotOf = slotOf;
    this.rowContexts = new Array<number>(slotOf.length);
    this.rowPositions = new Int32Array(slotOf.length);
    slotOf.forEach((s, i) => {
      this.rowContexts[s] = contexts[i];
      this.rowPositions[s] = nextPositions[i];
    });
    this.forgetReleased();
  }

  private contextOf(id: number): CrossContext {
    const context = this.contexts.get(id);
    if (!context) throw new Error(`context ${id} is not registered`);
    return context;
  }

  private forgetReleased(): void {
    if (this.released.size === 0) return;
    const read = new Set(this.rowContexts);
    for (const id of this.released) {
      if (read.has(id)) continue;
      const context = this.contexts.get(id);
      if (context) this.ids.delete(context);
      this.contexts.delete(id);
      this.released.delete(id);
    }
  }

  private assertUsable(): void {
    if (this.broken) throw this.broken;
  }
}

// Private: logits come out in batch-row (slot) order; the caller's row i is batch row slotOf[i].
function reorderRows(logits: Float32Array, slotOf: Int32Array, vocabSize: number): Float32Array {
  if (slotOf.every((slot, i) => slot === i)) return logits;
  const out = new Float32Array(logits.length);
  slotOf.forEach((slot, i) => out.set(logits.subarray(slot * vocabSize, (slot + 1) * vocabSize), i * vocabSize));
  return out;
}
