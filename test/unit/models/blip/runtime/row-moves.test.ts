import { describe, expect, it } from 'vitest';
import { keepRowsInPlace, moveRows, planRowMoves, scratchSize, type RowBlocks } from '../../../../../src/models/blip/runtime/row-moves.ts';
import { createRandom } from '../../../generation/fake-decoder.ts';

/** Rows of 2 blocks, 5 apart, of which 3 elements matter: element (row, block, i) holds row·100 + block·10 + i. */
const LAYOUT: RowBlocks = { blocks: 2, stride: 5, size: 3 };

function filled(rows: number): Float32Array {
  const out = new Float32Array(rows * LAYOUT.blocks * LAYOUT.stride).fill(-1);
  for (let r = 0; r < rows; r++) for (let b = 0; b < LAYOUT.blocks; b++) for (let i = 0; i < LAYOUT.size; i++) out[(r * 2 + b) * 5 + i] = r * 100 + b * 10 + i;
  return out;
}

/** The used elements of `row`. */
function rowOf(buffer: Float32Array, row: number): number[] {
  return [0, 1].flatMap((b) => [...buffer.subarray((row * 2 + b) * 5, (row * 2 + b) * 5 + 3)]);
}

describe('moveRows', () => {
  it('plans nothing when every row keeps its own content (greedy steps, rows leaving from the end)', () => {
    expect(planRowMoves(Int32Array.from([0, 1, 2]))).toBeUndefined();
    expect(planRowMoves(Int32Array.from([0, -1, 2]))).toBeUndefined();
  });

  it('gathers rows in place, each row read before it is overwritten, with no scratch for chains', () => {
    const buffer = filled(4);
    // Row 0 keeps, 1 ← 0, 2 ← 3, 3 ← 1: written 2 (nobody reads it), then 3, then 1.
    const moves = planRowMoves(Int32Array.from([0, 0, 3, 1]))!;
    expect(moves.order).toEqual([2, 3, 1]);
    expect(scratchSize(moves, LAYOUT)).toBe(0);
    moveRows(buffer, moves, LAYOUT, new Float32Array(0));
    const original = filled(4);
    [0, 0, 3, 1].forEach((source, row) => expect(rowOf(buffer, row)).toEqual(rowOf(original, source)));
    // Elements past `size` (unused columns) are not touched.
    expect(buffer[3]).toBe(-1);
  });

  it('saves one row per cycle to the scratch (two beams swapping parents)', () => {
    const buffer = filled(5);
    // 0 ↔ 1 is a cycle; 4 ← 2 ← 3 is a chain beside it.
    const sources = Int32Array.from([1, 0, 3, 3, 2]);
    const moves = planRowMoves(sources)!;
    expect(moves.saved.size).toBe(1);
    const scratch = new Float32Array(scratchSize(moves, LAYOUT));
    expect(scratch.length).toBe(LAYOUT.blocks * LAYOUT.size);
    moveRows(buffer, moves, LAYOUT, scratch);
    const original = filled(5);
    sources.forEach((source, row) => expect(rowOf(buffer, row)).toEqual(rowOf(original, source)));
  });

  it('equals a gather into a new buffer for random beam reorders with duplicates, drops and fresh rows', () => {
    const random = createRandom(11);
    for (let trial = 0; trial < 200; trial++) {
      const before = 1 + Math.floor(random() * 8);
      const after = 1 + Math.floor(random() * 10);
      const rows = Math.max(before, after);
      const sources = Int32Array.from({ length: after }, () => (random() < 0.15 ? -1 : Math.floor(random() * before)));
      const buffer = filled(rows);
      const original = filled(rows);
      const moves = planRowMoves(sources);
      if (moves) moveRows(buffer, moves, LAYOUT, new Float32Array(scratchSize(moves, LAYOUT)));
      sources.forEach((source, row) => expect(rowOf(buffer, row), `trial ${trial}, row ${row}`).toEqual(rowOf(original, source < 0 ? row : source)));
    }
  });
});

describe('keepRowsInPlace', () => {
  it('gives each row the slot its cache row is in when its group holds that slot', () => {
    // Four beams of one request in reverse order: every beam stays where it is, nothing will be copied.
    const reversed = Int32Array.from([0, 1, 2, 3]);
    keepRowsInPlace(reversed, [7, 7, 7, 7], [3, 2, 1, 0]);
    expect([...reversed]).toEqual([3, 2, 1, 0]);
    // Two children of one parent: one stays, the other takes the group's other slot; a row of another group keeps
    // its group's slot even when its cache row is elsewhere; a fresh row takes what is left.
    const mixed = Int32Array.from([0, 1, 2, 3]);
    keepRowsInPlace(mixed, [7, 7, 9, 9], [1, 1, 0, -1]);
    expect([...mixed]).toEqual([1, 0, 2, 3]);
  });

  it('keeps the set of slots of every group, for random batches', () => {
    const random = createRandom(5);
    for (let trial = 0; trial < 100; trial++) {
      const n = 1 + Math.floor(random() * 12);
      const groups = Array.from({ length: n }, () => Math.floor(random() * 3));
      const sources = Array.from({ length: n }, () => (random() < 0.2 ? -1 : Math.floor(random() * n)));
      const slotOf = Int32Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
      const before = new Map(groups.map((g) => [g, [...slotOf].filter((_, i) => groups[i] === g).sort()]));
      keepRowsInPlace(slotOf, groups, sources);
      for (const [g, slots] of before) expect([...slotOf].filter((_, i) => groups[i] === g).sort(), `trial ${trial}`).toEqual(slots);
      // A row not in its cache row's slot could not have it: another row of its group sits there and came from it.
      slotOf.forEach((slot, i) => {
        if (sources[i] < 0 || slot === sources[i]) return;
        const holder = [...slotOf].indexOf(sources[i]);
        if (holder >= 0 && groups[holder] === groups[i]) expect(sources[holder]).toBe(sources[i]);
      });
    }
  });
});
