/**
 * Moving rows of a buffer in place: row s takes the content of row `sources[s]`, as beam search continues some beams
 * from others. Rows that keep their own content are not touched, and a source row that is itself overwritten is
 * saved to a scratch buffer first, so the cost is the rows that change, with no allocation but the plan.
 */

/** A row is `blocks` blocks `stride` elements apart, of which the first `size` elements matter (the used columns). */
export interface RowBlocks {
  blocks: number;
  stride: number;
  size: number;
}

/** Which rows are written, from where, and which sources are saved first (row → its place in the scratch). */
export interface RowMoves {
  targets: number[];
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
  const written = new Set(targets);
  const saved = new Map<number, number>();
  for (const s of targets) {
    const source = sources[s];
    if (written.has(source) && !saved.has(source)) saved.set(source, saved.size);
  }
  return { targets, sources, saved };
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
  for (const s of moves.targets) {
    const source = moves.sources[s];
    const slot = moves.saved.get(source);
    for (let b = 0; b < blocks; b++) {
      // A source that is not written keeps its content until every move has read it.
      const from = slot === undefined ? buffer.subarray(start(source, b), start(source, b) + size) : scratch.subarray(slot * rowSize + b * size, slot * rowSize + (b + 1) * size);
      buffer.set(from, start(s, b));
    }
  }
}
