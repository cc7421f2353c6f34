import type * as ort from 'onnxruntime-node';
import { DecoderIO } from '../graph-names.ts';
import { floatData, floatTensor, int64Tensor, type Feeds, type OnnxSession } from '../../../runtime/onnx-session.ts';
import { CrossBatch, kvBytes, MASKED, type CrossContext, type CrossNames, type KvPrecision } from './cross-context.ts';
import { compactPast, mergePasts, type Past } from './self-attention-cache.ts';
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
  /** Rows the decoder is expected to hold at most (the engine's batch bound): cross buffers grow up to it at once. */
  capacityHint?: number;
}

const CROSS_NAMES: CrossNames = {
  key: DecoderIO.crossKey,
  value: DecoderIO.crossValue,
  keyScale: DecoderIO.crossKeyScale,
  valueScale: DecoderIO.crossValueScale,
  bias: DecoderIO.crossBias,
};

/** One row of a decoder call of width 1: the cache row it continues (`gather`) and sees, and its token. */
interface StepRow {
  gather: number;
  /** Sees none of the cache (an admitted one-token prompt). */
  fresh: boolean;
  token: number;
  position: number;
  context: number;
}

/**
 * `TokenDecoder` over the decoder step graph. It keeps, per live row, the attention mask of its cache, its next
 * position id and its context; the self-attention cache itself stays in the tensors the graph returned, gathered by
 * the graph from `parents`. Masked cache positions get exactly zero attention weight, so rows with different prompt
 * lengths, admitted at different steps, compute what they would compute alone.
 *
 * Continuous batching (`step`): an admitted row with a one-token prompt (every VQA row, captions without a prompt) is
 * just one more row of the step: its `parents` entry names any cached row and its mask hides that row's whole cache,
 * so the graph's own Gather extends the batch and nothing is copied in JS. A longer prompt is first run alone (all
 * but its last token, one extra call for the rows admitted together), and its cache is concatenated in JS to the
 * running rows' cache, the shorter side left-padded with masked columns; its last token then joins the step. The
 * step stays one token wide, so running rows never pay for a newcomer's prompt length.
 *
 * Batch rows are not kept in the caller's row order: each row is placed in the slot of the cross-attention buffers
 * that already holds its context (see `CrossBatch`), and logits are returned in the caller's order.
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
  private past: Past | undefined;
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
    for (const context of contexts) this.addContext(context);
  }

  /** Rows of the last call. */
  get rows(): number {
    return this.slotOf.length;
  }

  /** Length of the self-attention cache (padding and masked columns included). */
  get cacheLength(): number {
    return this.past?.length ?? 0;
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
    this.past = undefined;
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
    const { logits, past } = await this.runPrompts(rows, slotOf, this.cross);
    this.commit(
      slotOf,
      rows.map((row) => row.context),
      rows.map((row) => row.tokens.length),
      past,
    );
    return reorderRows(logits, slotOf, this.vocabSize);
  }

  /** Running rows take one token each; admitted rows join (see the class comment); one call of width 1. */
  private async continueRows(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>, admitted: ReadonlyArray<PromptRow>): Promise<Float32Array> {
    const parentSlots = parents.map((p) => this.slotOf[p]);
    const compacted = compactPast(this.past as Past, parentSlots, this.dims);
    let past = compacted.past;
    const rows: StepRow[] = parents.map((_, i) => {
      const slot = parentSlots[i];
      return { gather: compacted.rowOf[slot], fresh: false, token: tokens[i], position: this.rowPositions[slot], context: this.rowContexts[slot] };
    });
    const long = admitted.flatMap((row, i) => (row.tokens.length > 1 ? [i] : []));
    let prefilledRowOf = new Int32Array(0);
    if (long.length > 0) {
      // All but the last prompt token, alone; then that cache goes after the running rows' cache.
      const heads = long.map((i) => ({ context: admitted[i].context, tokens: admitted[i].tokens.slice(0, -1) }));
      const prefillCross = new CrossBatch(this.dims.layers, this.dims.heads, this.dims.headDim, 0, this.dims.crossKv);
      // The running batch may hold a context only in its slot: the prefill reads it there (views, no copy).
      const order = prefillCross.arrange(heads.map((row) => this.cross.readable(this.contextOf(row.context))));
      const prefilled = (await this.runPrompts(heads, order, prefillCross)).past;
      prefillCross.clear();
      prefilledRowOf = order.map((row) => past.rows + row);
      past = mergePasts(past, prefilled, this.dims);
    }
    let j = 0;
    for (const row of admitted) {
      const last = row.tokens.length - 1;
      // A one-token prompt sees none of the cache: any row will do for the gather.
      rows.push({ gather: last > 0 ? prefilledRowOf[j++] : 0, fresh: last === 0, token: row.tokens[last], position: last, context: row.context });
    }

    const slotOf = this.cross.arrange(rows.map((row) => this.contextOf(row.context)));
    const batch = rows.length;
    const total = past.length + 1;
    const ids = new Array<number>(batch);
    const positions = new Array<number>(batch);
    const gather = new Array<number>(batch);
    const masks = new Uint8Array(batch * total);
    rows.forEach((row, i) => {
      const s = slotOf[i];
      ids[s] = row.token;
      positions[s] = row.position;
      gather[s] = row.gather;
      if (!row.fresh) masks.set(past.masks.subarray(row.gather * past.length, (row.gather + 1) * past.length), s * total);
      masks[s * total + total - 1] = 1;
    });
    const bias = new Float32Array(batch * total);
    for (let k = 0; k < masks.length; k++) bias[k] = masks[k] === 1 ? 0 : MASKED;
    const out = await this.run({ ids, positions, width: 1, bias, gather, batch, past, cross: this.cross });
    this.commit(
      slotOf,
      rows.map((row) => row.context),
      rows.map((row) => row.position + 1),
      { keys: out.keys, values: out.values, masks, rows: batch, length: total },
    );
    return reorderRows(out.logits, slotOf, this.vocabSize);
  }

  /** Prompts from an empty cache, in batch rows `slotOf` of `cross`: returns the last positions' logits (slot order). */
  private async runPrompts(rows: ReadonlyArray<PromptRow>, slotOf: Int32Array, cross: CrossBatch): Promise<{ logits: Float32Array; past: Past }> {
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
    // Query q of a row sees its own prompt positions up to q.
    const bias = new Float32Array(batch * width * width).fill(MASKED);
    for (let s = 0; s < batch; s++) {
      for (let q = 0; q < width; q++) {
        for (let j = 0; j <= q; j++) if (masks[s * width + j] === 1) bias[(s * width + q) * width + j] = 0;
      }
    }
    const gather = Array.from({ length: batch }, (_, s) => s);
    const out = await this.run({ ids, positions, width, bias, gather, batch, past: undefined, cross });
    return { logits: out.logits, past: { keys: out.keys, values: out.values, masks, rows: batch, length: width } };
  }

  private async run(call: {
    ids: number[];
    positions: number[];
    width: number;
    bias: Float32Array;
    gather: number[];
    batch: number;
    past: Past | undefined;
    cross: CrossBatch;
  }): Promise<{ logits: Float32Array; keys: ort.Tensor[]; values: ort.Tensor[] }> {
    const { ids, positions, width, bias, gather, batch, past } = call;
    const total = bias.length / (batch * width);
    const { heads, headDim, layers } = this.dims;
    const feeds: Feeds = {
      [DecoderIO.inputIds]: int64Tensor(ids, [batch, width]),
      [DecoderIO.positionIds]: int64Tensor(positions, [batch, width]),
      [DecoderIO.selfBias]: floatTensor(bias, [batch, 1, width, total]),
      [DecoderIO.parents]: int64Tensor(gather, [batch]),
      ...call.cross.feeds(batch, CROSS_NAMES),
    };
    const empty = past ? undefined : floatTensor(new Float32Array(0), [batch, heads, 0, headDim]);
    for (let layer = 0; layer < layers; layer++) {
      feeds[DecoderIO.pastKey(layer)] = past ? past.keys[layer] : (empty as ort.Tensor);
      feeds[DecoderIO.pastValue(layer)] = past ? past.values[layer] : (empty as ort.Tensor);
    }
    const out = await this.session.run(feeds);
    return {
      logits: floatData(out[DecoderIO.logits]),
      keys: Array.from({ length: layers }, (_, layer) => out[DecoderIO.presentKey(layer)]),
      values: Array.from({ length: layers }, (_, layer) => out[DecoderIO.presentValue(layer)]),
    };
  }

  // Private: the state after a call; `contexts` and `nextPositions` are in the caller's row order.
  private commit(slotOf: Int32Array, contexts: readonly number[], nextPositions: readonly number[], past: Past): void {
    this.slotOf = slotOf;
    this.rowContexts = new Array<number>(slotOf.length);
    this.rowPositions = new Int32Array(slotOf.length);
    slotOf.forEach((s, i) => {
      this.rowContexts[s] = contexts[i];
      this.rowPositions[s] = nextPositions[i];
    });
    this.past = past;
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
