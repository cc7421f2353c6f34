/**
 * Moving rows of a buffer in place: row s takes the content of row `sources[s]`, as beam search continues some beams
 * from others. Rows that keep their own content are not touched, and rows are written in an order where every row is
 * read before it is overwritten (beams form chains: 3 ← 2 ← 1 ← 0 is written 3, 2, 1). Only a cycle (two beams
 * swapping parents) needs a row saved to a scratch buffer first. So the cost is one copy per row that changes.
 */

/** A row is `blocks` blocks `stride` elements apart, of which the first `size` elements matter (the used columns). */
export interface RowBlocks {
  blocks: number;
  stride: number;
  size: number;
}

/** Which rows are written, in that order, from where, and which sources are saved first (row → scratch place). */
export interface RowMoves {
  order: number[];
  sources: Int32Array;
  saved: Map<number, number>;
}

/** The moves `sources` asks for (negative: the row's content does not matter), or undefined when nothing moves. */
export function planRowMoves(sources: Int32Array): RowMoves | undefined {
  const targets: number[] = [];
  sources.forEach((source, s) => {
    if (source >= 0 && source !== s) targets.push(s);
  });
  if (targets.length === 0) return undefined;
  // A target is written once no other pending target still reads it.
  const readers = new Map<number, number>();
  for (const s of targets) readers.set(sources[s], (readers.get(sources[s]) ?? 0) + 1);
  const pending = new Set(targets);
  const ready = targets.filter((s) => !readers.has(s));
  const order: number[] = [];
  const saved = new Map<number, number>();
  while (order.length < targets.length) {
    if (ready.length === 0) {
      // Only cycles are left: save one of their rows, whose readers then read the scratch.
      const [row] = pending;
      saved.set(row, saved.size);
      ready.push(row);
    }
    const s = ready.pop()!;
    pending.delete(s);
    order.push(s);
    const source = sources[s];
    const left = (readers.get(source) ?? 0) - 1;
    readers.set(source, left);
    if (left === 0 && pending.has(source) && !saved.has(source)) ready.push(source);
  }
  return { order, sources, saved };
}

/** Scratch elements `moveRows` needs for `moves` over rows laid out as `layout`. */
export function scratchSize(moves: RowMoves, layout: RowBlocks): number {
  return moves.saved.size * layout.blocks * layout.size;
}

/** Applies `moves` to `buffer` in place, using `scratch` (at least `scratchSize` elements) for the saved rows. */
export function moveRows(buffer: Float32Array, moves: RowMoves, layout: RowBlocks, scratch: Float32Array): void {
  const { blocks, stride, size } = layout;
  const rowSize = blocks * size;
  const start = (row: number, b: number) => (row * blocks + b) * stride;
  for (const [row, slot] of moves.saved) {
    for (let b = 0; b < blocks; b++) scratch.set(buffer.subarray(start(row, b), start(row, b) + size), slot * rowSize + b * size);
  }
  for (const s of moves.order) {
    const source = moves.sources[s];
    const slot = moves.saved.get(source);
    for (let b = 0; b < blocks; b++) {
      // A source not saved is read before it is written (the order), or never written.
      const from = slot === undefined ? buffer.subarray(start(source, b), start(source, b) + size) : scratch.subarray(slot * rowSize + b * size, slot * rowSize + (b + 1) * size);
      buffer.set(from, start(s, b));
    }
  }
}

/**
 * Reassigns batch slots among rows of the same group (`groups[i]`: rows reading the same cross-attention context,
 * whose slots hold identical K/V) so that as many rows as possible land in the slot their cache row already occupies
 * (`sources[i]`, −1 for none). Beams of one request then stay where they are whatever their order, and only a beam
 * whose parent has several children is copied. `slotOf` is changed in place; each group keeps its set of slots.
 */
export function keepRowsInPlace(slotOf: Int32Array, groups: readonly number[], sources: readonly number[]): void {
  const slotsOf = new Map<number, Set<number>>();
  slotOf.forEach((slot, i) => {
    const slots = slotsOf.get(groups[i]) ?? new Set<number>();
    slots.add(slot);
    slotsOf.set(groups[i], slots);
  });
  const placed = new Uint8Array(slotOf.length);
  sources.forEach((source, i) => {
    const free = slotsOf.get(groups[i])!;
    if (source < 0 || !free.has(source)) return;
    slotOf[i] = source;
    free.delete(source);
    placed[i] = 1;
  });
  slotOf.forEach((_, i) => {
    if (placed[i]) return;
    const free = slotsOf.get(groups[i])!;
    const [slot] = free;
    slotOf[i] = slot;
    free.delete(slot);
  });
}
