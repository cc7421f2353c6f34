import type * as ort from 'onnxruntime-node';
import { floatData, floatTensor } from '../../../runtime/onnx-session.ts';
import { moveRows, planRowMoves, scratchSize, type RowBlocks } from './row-moves.ts';

/**
 * The decoder's self-attention cache: per layer one key and one value buffer `[rowCapacity, heads, capacity, headDim]`
 * that lives across calls. The decoder graph reads the first `rows` rows of it whole (`feeds`) and returns only the
 * call's new keys and values, which `append` writes into the next columns. Nothing of the cache's size is allocated
 * or copied per step: with glibc's `MALLOC_MMAP_THRESHOLD_` at 1 MiB (the serving process), every fresh block of that
 * size was a new mapping faulted in page by page, which made a 16-row step at cache 24 cost ~7× one at cache 18.
 *
 * Columns `length … capacity−1` are unused, and every row has its own mask over the columns (1 = attend), so rows
 * admitted at different steps, with prompts of different lengths, share the buffer; the decoder turns the masks into
 * the graph's additive bias. Masked columns hold finite values (zeros or an earlier row's keys), so they get exactly
 * zero weight. Buffers grow geometrically (`grownColumns`), rows by the decoder's batch bound, and shrink back when a
 * cut leaves them four times wider than the live columns.
 */

/** The shape of one cache row. */
export interface CacheDims {
  layers: number;
  heads: number;
  headDim: number;
}

/** A decoder call's new keys and values, per layer `[rows, heads, width, headDim]`, and per row its mask over them. */
export interface NewColumns {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  masks: Uint8Array;
  rows: number;
  width: number;
}

/**
 * Leading columns that no live row attends to any more (their rows left) are cut once there are at least this many
 * and they are at least a quarter of the cache. Dead columns cost every step a read in the self-attention products
 * and hold capacity; a cut moves the live columns once, within the buffer.
 */
export const COMPACT_MIN_COLUMNS = 8;

/** Columns of the first buffer: a 16-row blip-base buffer of 16 columns is 0.8 MB per layer and kind. */
export const MIN_COLUMNS = 16;

/** The capacity a buffer of `capacity` columns grows to when it must hold `needed`: doubling, at least MIN_COLUMNS. */
export function grownColumns(needed: number, capacity: number): number {
  let grown = Math.max(MIN_COLUMNS, capacity);
  while (grown < needed) grown *= 2;
  return grown;
}

export class SelfAttentionCache {
  /** Rows of the last call: the first `rows` rows of the buffers are the batch's. */
  rows = 0;
  /** Columns in use; the next call's keys go to column `length`. */
  length = 0;
  private columns = 0;
  private rowCapacity = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  /** `[rowCapacity, capacity]`: 1 where a row attends to a column; 0 beyond `length`. */
  private masks = new Uint8Array(0);
  /** Reused by `reorder` for the rows of cycles, which are read after being overwritten. */
  private scratch = new Float32Array(0);
  private cachedFeeds: { rows: number; keys: ort.Tensor[]; values: ort.Tensor[] } | undefined;

  constructor(
    private readonly dims: CacheDims,
    /** Rows the buffers are sized for at once (the decoder's batch bound): growing them copies the whole cache. */
    private readonly rowsHint = 0,
  ) {}

  /** Columns the buffers hold (used or not): what the graph reads per row. */
  get capacity(): number {
    return this.columns;
  }

  /** Row `row`'s mask over the `capacity` columns (a view: valid until the cache changes). */
  mask(row: number): Uint8Array {
    return this.masks.subarray(row * this.columns, (row + 1) * this.columns);
  }

  /** Frees the buffers. */
  clear(): void {
    this.rows = 0;
    this.length = 0;
    this.columns = 0;
    this.rowCapacity = 0;
    this.keys = [];
    this.values = [];
    this.masks = new Uint8Array(0);
    this.scratch = new Float32Array(0);
    this.cachedFeeds = undefined;
  }

  /** Starts over from a prompt call's keys and values: its rows become the cache's, its columns the first ones. */
  reset(prompt: NewColumns): void {
    this.rows = 0;
    this.length = 0;
    this.masks.fill(0);
    this.reserve(prompt.rows, prompt.width);
    this.rows = prompt.rows;
    this.append(prompt);
  }

  /**
   * The past input of a call on the first `rows` rows: views of the buffers, `[rows, heads, capacity, headDim]` per
   * layer. Kept while the buffers and `rows` stay the same, so a step does not create 2 × layers tensors.
   */
  feeds(rows: number): { keys: ort.Tensor[]; values: ort.Tensor[] } {
    if (this.cachedFeeds?.rows === rows) return this.cachedFeeds;
    const { heads, headDim } = this.dims;
    const size = rows * heads * this.columns * headDim;
    const dims = [rows, heads, this.columns, headDim];
    this.cachedFeeds = {
      rows,
      keys: this.keys.map((buffer) => floatTensor(buffer.subarray(0, size), dims)),
      values: this.values.map((buffer) => floatTensor(buffer.subarray(0, size), dims)),
    };
    return this.cachedFeeds;
  }

  /** Writes a call's keys and values (one per row of the cache) into the next columns, growing the buffers if full. */
  append(call: NewColumns): void {
    if (call.rows !== this.rows) throw new Error(`Expected new keys for ${this.rows} rows but received ${call.rows}`);
    this.reserve(this.rows, this.length + call.width);
    this.writeRows(call, 0, this.length);
    this.length += call.width;
  }

  /**
   * Cuts the leading columns none of `live` attends to, when worth it (COMPACT_MIN_COLUMNS), by moving the live
   * rows' columns to the front in place. Rows not in `live` are left as they are: no call reads them again.
   */
  compact(live: readonly number[]): void {
    const { length } = this;
    let dead = length;
    for (const row of new Set(live)) {
      const first = this.masks.subarray(row * this.columns, row * this.columns + length).indexOf(1);
      dead = Math.min(dead, first < 0 ? length : first);
    }
    if (dead < COMPACT_MIN_COLUMNS || dead * 4 < length) return;
    const { heads, headDim } = this.dims;
    const kept = length - dead;
    for (const row of new Set(live)) {
      for (const buffer of [...this.keys, ...this.values]) {
        for (let h = 0; h < heads; h++) {
          const base = (row * heads + h) * this.columns * headDim;
          buffer.copyWithin(base, base + dead * headDim, base + length * headDim);
        }
      }
      const base = row * this.columns;
      this.masks.copyWithin(base, base + dead, base + length);
      this.masks.fill(0, base + kept, base + length);
    }
    this.length = kept;
    // After a long request has left, a buffer much wider than what remains would make every step read masked columns.
    if (this.columns > MIN_COLUMNS && 4 * (kept + 1) <= this.columns) this.reallocate(this.rowCapacity, grownColumns(2 * (kept + 1), 0));
  }

  /**
   * Puts a prompt call's cache beside the rows in `live`: its rows go to the first rows not in `live`, its columns
   * end at the cache's last column (left-padded with masked columns). A prompt longer than the cache makes the cache
   * that long: the other rows' new columns are masked. Returns the row of each of its rows.
   */
  admit(prompt: NewColumns, live: readonly number[]): Int32Array {
    const taken = new Set(live);
    const rowOf = new Int32Array(prompt.rows);
    let free = 0;
    for (let r = 0; r < prompt.rows; r++) {
      while (taken.has(free)) free++;
      rowOf[r] = free++;
    }
    const rows = Math.max(this.rows, free);
    const length = Math.max(this.length, prompt.width);
    this.reserve(rows, length);
    // Rows past the old `rows` are new to the batch: nothing of theirs is masked in yet.
    for (let r = 0; r < prompt.rows; r++) this.masks.fill(0, rowOf[r] * this.columns, (rowOf[r] + 1) * this.columns);
    this.rows = rows;
    this.length = length;
    this.writeRows(prompt, rowOf, length - prompt.width);
    return rowOf;
  }

  /**
   * Makes row s of the next call hold what row `sources[s]` holds now (beams continuing another beam, rows leaving),
   * in place: only rows whose source is another row are written, once each, in an order that reads every row before
   * overwriting it (row-moves.ts); only cycles (beams swapping parents) go through the reused scratch.
   * `sources[s] < 0`: a row that sees none of the cache (its mask is cleared).
   */
  reorder(sources: Int32Array): void {
    const rows = sources.length;
    this.reserve(rows, this.length);
    const { heads, headDim } = this.dims;
    const moves = planRowMoves(sources);
    if (moves) {
      const layout: RowBlocks = { blocks: heads, stride: this.columns * headDim, size: this.length * headDim };
      const need = scratchSize(moves, layout);
      // Doubling: the cache grows by a column a step, and the scratch must not be reallocated as often.
      if (this.scratch.length < need) this.scratch = new Float32Array(Math.max(need, 2 * this.scratch.length));
      for (const buffer of [...this.keys, ...this.values]) moveRows(buffer, moves, layout, this.scratch);
    }
    const old = this.masks.slice(0, Math.max(this.rows, rows) * this.columns);
    for (let s = 0; s < rows; s++) {
      const source = sources[s];
      const target = this.masks.subarray(s * this.columns, (s + 1) * this.columns);
      if (source < 0) target.fill(0);
      else if (source !== s) target.set(old.subarray(source * this.columns, (source + 1) * this.columns));
    }
    this.rows = rows;
  }

  // Private: buffers for at least `rows` rows and `columns` columns, keeping the first `this.rows` rows' content.
  private reserve(rows: number, columns: number): void {
    if (rows <= this.rowCapacity && columns <= this.columns) return;
    const rowCapacity = rows <= this.rowCapacity ? this.rowCapacity : Math.max(rows, this.rowsHint, 2 * this.rowCapacity);
    this.reallocate(rowCapacity, columns <= this.columns ? this.columns : grownColumns(columns, this.columns));
  }

  // Private: new buffers of `rowCapacity` rows and `capacity` (≥ length) columns, with the first `this.rows` rows' content.
  private reallocate(rowCapacity: number, capacity: number): void {
    const { heads, headDim } = this.dims;
    const size = rowCapacity * heads * capacity * headDim;
    const copy = (old: Float32Array): Float32Array => {
      const out = new Float32Array(size);
      for (let b = 0; b < this.rows * heads; b++) {
        out.set(old.subarray(b * this.columns * headDim, (b * this.columns + this.length) * headDim), b * capacity * headDim);
      }
      return out;
    };
    // One buffer at a time, each old one let go as soon as it is copied: growing holds one layer twice, not all.
    for (const buffers of [this.keys, this.values]) {
      for (let layer = 0; layer < this.dims.layers; layer++) buffers[layer] = buffers[layer] ? copy(buffers[layer]) : new Float32Array(size);
    }
    const masks = new Uint8Array(rowCapacity * capacity);
    for (let r = 0; r < this.rows; r++) masks.set(this.masks.subarray(r * this.columns, r * this.columns + this.length), r * capacity);
    this.masks = masks;
    this.rowCapacity = rowCapacity;
    this.columns = capacity;
    this.cachedFeeds = undefined;
  }

  // Private: `call`'s row r into cache row `rowOf[r]` (or r when 0), columns `at … at + width − 1`.
  private writeRows(call: NewColumns, rowOf: Int32Array | 0, at: number): void {
    const { heads, headDim } = this.dims;
    const { width } = call;
    const block = width * headDim;
    call.keys.forEach((tensor, layer) => {
      for (const [data, buffer] of [
        [floatData(tensor), this.keys[layer]],
        [floatData(call.values[layer]), this.values[layer]],
      ] as const) {
        for (let r = 0; r < call.rows; r++) {
          const row = rowOf === 0 ? r : rowOf[r];
          for (let h = 0; h < heads; h++) {
            const from = (r * heads + h) * block;
            const to = ((row * heads + h) * this.columns + at) * headDim;
            // A plain loop: a step's blocks are one head's 64 floats, too small for a subarray and a set each.
            for (let i = 0; i < block; i++) buffer[to + i] = data[from + i];
          }
        }
      }
    });
    for (let r = 0; r < call.rows; r++) {
      const row = rowOf === 0 ? r : rowOf[r];
      this.masks.set(call.masks.subarray(r * width, (r + 1) * width), row * this.columns + at);
    }
  }
}
