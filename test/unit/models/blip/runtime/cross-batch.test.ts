import { describe, expect, it } from 'vitest';
import { CrossBatch, kvBytes, MASKED, splitCrossContexts, type CrossContext } from '../../../../../src/models/blip/runtime/cross-context.ts';

const LAYERS = 2;
const HEADS = 2;
const HEAD_DIM = 3;
const NAMES = { key: (layer: number) => `k${layer}`, value: (layer: number) => `v${layer}`, bias: 'bias' };

/** A context whose every key and value is `tag` (+ layer), so that a slot's origin shows in the feeds. */
function context(tag: number, length: number): CrossContext {
  const per = HEADS * HEAD_DIM * length;
  return {
    length,
    keys: Array.from({ length: LAYERS }, (_, layer) => new Float32Array(per).fill(tag + layer / 10)),
    values: Array.from({ length: LAYERS }, (_, layer) => new Float32Array(per).fill(-tag - layer / 10)),
    bias: new Float32Array(length),
  };
}

function slotKeys(batch: CrossBatch, n: number, slot: number, layer = 0): Float32Array {
  const data = batch.feeds(n, NAMES)[`k${layer}`].data as Float32Array;
  const per = data.length / n;
  return data.subarray(slot * per, (slot + 1) * per);
}

/** Codes `tag` (+ layer) and scales tag/100 per (head, token). */
function int8Ctx(tag: number, length: number): CrossContext {
  const per = HEADS * HEAD_DIM * length;
  const layers = <T>(make: (layer: number) => T) => Array.from({ length: LAYERS }, (_, layer) => make(layer));
  return {
    length,
    keys: layers((layer) => new Int8Array(per).fill(tag + layer)),
    values: layers((layer) => new Int8Array(per).fill(-tag - layer)),
    keyScales: layers(() => new Float32Array(HEADS * length).fill(tag / 100)),
    valueScales: layers(() => new Float32Array(HEADS * length).fill(-tag / 100)),
    bias: new Float32Array(length),
  };
}

describe('CrossBatch', () => {
  it('keeps a row whose context already sits in a slot there, and fills vacated slots with newcomers', () => {
    const [a, b, c] = [context(1, 4), context(2, 4), context(3, 4)];
    const batch = new CrossBatch(LAYERS, HEADS, HEAD_DIM);
    expect([...batch.arrange([a, b])]).toEqual([0, 1]);
    // a leaves, c joins: b stays in slot 1, c takes slot 0.
    expect([...batch.arrange([b, c])]).toEqual([1, 0]);
    expect(new Set(slotKeys(batch, 2, 0))).toEqual(new Set([3]));
    expect(new Set(slotKeys(batch, 2, 1))).toEqual(new Set([2]));
    expect(new Set(slotKeys(batch, 2, 1, 1))).toEqual(new Set([Math.fround(2.1)]));
  });

  it('reserves the hinted capacity at once, so that rows joining later never move the others', () => {
    const contexts = Array.from({ length: 8 }, (_, i) => context(i + 1, 4));
    const batch = new CrossBatch(LAYERS, HEADS, HEAD_DIM, 8);
    batch.arrange(contexts.slice(0, 1));
    const buffer = (batch.feeds(1, NAMES).k0.data as Float32Array).buffer;
    for (let n = 2; n <= 8; n++) {
      batch.arrange(contexts.slice(0, n));
      expect((batch.feeds(n, NAMES).k0.data as Float32Array).buffer).toBe(buffer);
    }
    expect(new Set(slotKeys(batch, 8, 7))).toEqual(new Set([8]));
    // Past the hint it still grows, and keeps every slot's content.
    batch.arrange([...contexts, context(9, 4)]);
    expect((batch.feeds(9, NAMES).k0.data as Float32Array).buffer).not.toBe(buffer);
    for (let s = 0; s < 9; s++) expect(new Set(slotKeys(batch, 9, s))).toEqual(new Set([s + 1]));
  });

  it('hands out the same feeds while its buffers and rows stay, written in place, and new ones once they change', () => {
    const contexts = Array.from({ length: 5 }, (_, i) => context(i + 1, 4));
    const [a, b, c] = contexts;
    const batch = new CrossBatch(LAYERS, HEADS, HEAD_DIM);
    batch.arrange([a, b]);
    const first = batch.feeds(2, NAMES);
    // a leaves, c is copied into its slot: same buffers, same tensors, new content.
    expect([...batch.arrange([b, c])]).toEqual([1, 0]);
    expect(batch.feeds(2, NAMES)).toBe(first);
    expect(new Set(slotKeys(batch, 2, 0))).toEqual(new Set([3]));
    // Another row count: other tensors.
    expect(batch.feeds(1, NAMES)).not.toBe(first);
    expect(batch.feeds(1, NAMES).k0.dims).toEqual([1, HEADS, HEAD_DIM, 4]);
    // Growth reallocates: the tensors follow the new buffers.
    batch.arrange(contexts);
    const grown = batch.feeds(5, NAMES);
    for (let s = 0; s < 5; s++) expect(new Set(slotKeys(batch, 5, s))).toHaveLength(1);
    expect(new Set(slotKeys(batch, 5, 4))).toEqual(new Set([5]));
    batch.clear();
    batch.arrange([a]);
    expect(batch.feeds(1, NAMES)).not.toBe(grown);
    expect(new Set(slotKeys(batch, 1, 0))).toEqual(new Set([1]));
  });

  it('pads a shorter context with zero keys and values under masked positions', () => {
    const batch = new CrossBatch(LAYERS, HEADS, HEAD_DIM);
    batch.arrange([context(1, 3), context(2, 2)]);
    const feeds = batch.feeds(2, NAMES);
    expect([...(feeds.bias.data as Float32Array)]).toEqual([0, 0, 0, 0, 0, MASKED]);
    // Keys are [h, d, M]: each (head, dim) row of slot 1 ends in one padded zero.
    const keys = slotKeys(batch, 2, 1);
    for (let row = 0; row < HEADS * HEAD_DIM; row++) expect([...keys.subarray(row * 3, row * 3 + 3)]).toEqual([2, 2, 0]);
    // Values are [h, M, d]: the last position of each head is zero.
    const values = (feeds.v0.data as Float32Array).subarray(HEADS * 3 * HEAD_DIM);
    for (let h = 0; h < HEADS; h++) expect([...values.subarray((h * 3 + 2) * HEAD_DIM, (h * 3 + 3) * HEAD_DIM)]).toEqual([0, 0, 0]);
  });

  describe('owning its contexts (retained)', () => {
    /** A batch that owns its contexts; `kept` are those still registered (restored when they lose their slot). */
    function owning(kept: Set<CrossContext>, int8 = false): CrossBatch {
      return new CrossBatch(LAYERS, HEADS, HEAD_DIM, 0, int8 ? 'int8' : 'fp32', (ctx) => kept.has(ctx));
    }
    const values = (batch: CrossBatch, n: number, slot: number, layer = 0) => {
      const data = batch.feeds(n, NAMES)[`v${layer}`].data as Float32Array;
      const per = data.length / n;
      return [...data.subarray(slot * per, (slot + 1) * per)];
    };

    it('drops a context’s arrays once it is in a slot, and serves beams and moved rows slot to slot', () => {
      const [a, b, c] = [context(1, 4), context(2, 4), context(3, 4)];
      const batch = owning(new Set([a, b, c]));
      expect([...batch.arrange([a, b, c])]).toEqual([0, 1, 2]);
      expect([a, b, c].map(kvBytes)).toEqual([0, 0, 0]);
      // a leaves: c moves out of the vacated tail into slot 0, from its slot.
      expect([...batch.arrange([c, b])]).toEqual([0, 1]);
      expect(new Set(slotKeys(batch, 2, 0))).toEqual(new Set([3]));
      expect(new Set(values(batch, 2, 0, 1))).toEqual(new Set([Math.fround(-3.1)]));
      // Two beams of b: the second one is copied from slot 1.
      expect([...batch.arrange([c, b, b])]).toEqual([0, 1, 2]);
      expect(new Set(slotKeys(batch, 3, 2, 1))).toEqual(new Set([Math.fround(2.1)]));
      expect(new Set(values(batch, 3, 2, 1))).toEqual(new Set([Math.fround(-2.1)]));
      // a lost its slot while still registered: it has its own arrays again, equal to what it was.
      expect(a.keys.map((layer) => new Set(layer))).toEqual([new Set([1]), new Set([Math.fround(1.1)])]);
      expect(kvBytes(a)).toBe(kvBytes(context(1, 4)));
      expect([b, c].map(kvBytes)).toEqual([0, 0]);
      // It comes back from its own arrays, which are dropped again.
      batch.arrange([a, b]);
      expect(new Set(slotKeys(batch, 2, 0))).toEqual(new Set([1]));
      expect(kvBytes(a)).toBe(0);
    });

    it('lets a released context go with its slot, and restores retained ones on clear', () => {
      const [a, b] = [context(1, 4), context(2, 4)];
      const kept = new Set([a, b]);
      const batch = owning(kept);
      batch.arrange([a, b]);
      kept.delete(a);
      batch.arrange([b]);
      expect(kvBytes(a)).toBe(0);
      expect(() => batch.arrange([a])).toThrow(/neither/);
      batch.clear();
      expect(new Set(b.values[1])).toEqual(new Set([Math.fround(-2.1)]));
      expect(b.values[1].length).toBe(HEADS * HEAD_DIM * 4);
    });

    it('re-pads every context when M changes, from slot-only contexts cropped back to their length', () => {
      const [long, short] = [context(1, 5), context(2, 2)];
      const batch = owning(new Set([long, short]));
      batch.arrange([long, short]);
      expect(kvBytes(short)).toBe(0);
      // M shrinks 5 → 2 (the long one left): the short one is read back from its padded slot.
      expect([...batch.arrange([short])]).toEqual([0]);
      expect(batch.feeds(1, NAMES).k0.dims).toEqual([1, HEADS, HEAD_DIM, 2]);
      expect(new Set(slotKeys(batch, 1, 0))).toEqual(new Set([2]));
      expect([...(batch.feeds(1, NAMES).bias.data as Float32Array)]).toEqual([0, 0]);
      expect(kvBytes(short)).toBe(0);
      // The long one, retained, kept its own copy (restored before the buffers were replaced).
      expect(new Set(long.keys[0])).toEqual(new Set([1]));
      expect(long.keys[0].length).toBe(HEADS * HEAD_DIM * 5);
    });

    it('reads a slot-only context for another batch (a prefill) as views of its slot', () => {
      const a = context(1, 4);
      const batch = owning(new Set([a]));
      batch.arrange([a]);
      const read = batch.readable(a);
      expect(read).not.toBe(a);
      expect(new Set(read.keys[1])).toEqual(new Set([Math.fround(1.1)]));
      const other = new CrossBatch(LAYERS, HEADS, HEAD_DIM);
      other.arrange([read]);
      expect(new Set(slotKeys(other, 1, 0))).toEqual(new Set([1]));
      expect(kvBytes(read)).toBeGreaterThan(0);
    });

    it('takes a lone context’s arrays as its one slot when empty (no copy), and copies that slot once a second row joins', () => {
      const [a, b] = [context(1, 4), context(2, 4)];
      const ownKeys = a.keys[1];
      const batch = owning(new Set([a, b]));
      expect([...batch.arrange([a])]).toEqual([0]);
      expect((batch.feeds(1, NAMES).k1.data as Float32Array).buffer).toBe(ownKeys.buffer);
      expect(kvBytes(a)).toBe(0);
      expect([...(batch.feeds(1, NAMES).bias.data as Float32Array)]).toEqual([0, 0, 0, 0]);
      expect([...batch.arrange([a, b])]).toEqual([0, 1]);
      expect((batch.feeds(2, NAMES).k1.data as Float32Array).buffer).not.toBe(ownKeys.buffer);
      expect(new Set(slotKeys(batch, 2, 0, 1))).toEqual(new Set([Math.fround(1.1)]));
      expect(new Set(values(batch, 2, 0, 1))).toEqual(new Set([Math.fround(-1.1)]));
      expect(new Set(slotKeys(batch, 2, 1))).toEqual(new Set([2]));
      // Cleared while still registered: a gets copies of its slot back, not the adopted arrays.
      batch.clear();
      expect(new Set(a.keys[1])).toEqual(new Set([Math.fround(1.1)]));
      expect(a.keys[1]).not.toBe(ownKeys);
    });

    it('adopts int8 codes and scales the same way', () => {
      const a = int8Ctx(3, 2);
      const ownScales = (a.keyScales as Float32Array[])[0];
      const batch = owning(new Set([a]), true);
      batch.arrange([a]);
      const feeds = batch.feeds(1, { ...NAMES, keyScale: (layer: number) => `ks${layer}`, valueScale: (layer: number) => `vs${layer}` });
      expect(feeds.k0.type).toBe('int8');
      expect((feeds.ks0.data as Float32Array).buffer).toBe(ownScales.buffer);
      expect([...(feeds.vs1.data as Float32Array)]).toEqual(new Array(HEADS * 2).fill(Math.fround(-0.03)));
    });

    it('restores int8 codes and scales', () => {
      const a = int8Ctx(3, 2);
      const b = int8Ctx(4, 2);
      const batch = owning(new Set([a, b]), true);
      batch.arrange([a, b]);
      expect(kvBytes(a)).toBe(0);
      batch.arrange([b]);
      expect(a.keys[0]).toBeInstanceOf(Int8Array);
      expect(new Set(a.keys[1])).toEqual(new Set([4]));
      expect([...(a.keyScales as Float32Array[])[0]]).toEqual(new Array(HEADS * 2).fill(Math.fround(0.03)));
    });
  });

  describe('with int8 K/V', () => {
    const INT8_NAMES = { ...NAMES, keyScale: (layer: number) => `ks${layer}`, valueScale: (layer: number) => `vs${layer}` };
    it('feeds int8 codes and per-token scales, padding a shorter context with zero codes and zero scales', () => {
      const batch = new CrossBatch(LAYERS, HEADS, HEAD_DIM, 0, 'int8');
      batch.arrange([int8Ctx(1, 3), int8Ctx(2, 2)]);
      const feeds = batch.feeds(2, INT8_NAMES);
      expect(feeds.k1.type).toBe('int8');
      expect(feeds.k1.dims).toEqual([2, HEADS, HEAD_DIM, 3]);
      expect(feeds.ks1.dims).toEqual([2, HEADS, 1, 3]);
      const keys = (feeds.k1.data as Int8Array).subarray(HEADS * HEAD_DIM * 3);
      for (let row = 0; row < HEADS * HEAD_DIM; row++) expect([...keys.subarray(row * 3, row * 3 + 3)]).toEqual([3, 3, 0]);
      const scales = [...(feeds.ks0.data as Float32Array)];
      expect(scales).toEqual([0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.02, 0, 0.02, 0.02, 0].map(Math.fround));
      expect([...(feeds.vs0.data as Float32Array)].slice(6)).toEqual([-0.02, -0.02, 0, -0.02, -0.02, 0].map(Math.fround));
      expect([...(feeds.bias.data as Float32Array)]).toEqual([0, 0, 0, 0, 0, MASKED]);
    });

    it('refuses a context of the other precision instead of converting it', () => {
      expect(() => new CrossBatch(LAYERS, HEADS, HEAD_DIM, 0, 'int8').arrange([context(1, 2)])).toThrow(/int8/);
      expect(() => new CrossBatch(LAYERS, HEADS, HEAD_DIM).arrange([int8Ctx(1, 2)])).toThrow(/fp32/);
    });

    it('splits batched cross K/V graph outputs per item, cropping codes and scales to each length', () => {
      // Two items padded to M = 3, the second one 2 long; values encode (item, row, position).
      const M = 3;
      const codes = (rows: number) => Int8Array.from({ length: 2 * rows * M }, (_, i) => i % 100);
      const scales = Float32Array.from({ length: 2 * HEADS * M }, (_, i) => i);
      const out = { keys: [codes(HEADS * HEAD_DIM)], values: [codes(HEADS * HEAD_DIM)], keyScales: [scales], valueScales: [scales] };
      const [first, second] = splitCrossContexts(out, 2, M, [3, 2], HEADS, HEAD_DIM);
      expect(first.keys[0]).toBeInstanceOf(Int8Array);
      expect([...(first.keyScales as Float32Array[])[0]]).toEqual([0, 1, 2, 3, 4, 5]);
      expect([...(second.keyScales as Float32Array[])[0]]).toEqual([6, 7, 9, 10]);
      expect([...(second.valueScales as Float32Array[])[0]]).toEqual([6, 7, 9, 10]);
      expect([...second.keys[0].subarray(0, 4)]).toEqual([18, 19, 21, 22]);
      // Values [h, M, d]: head 0 keeps positions 0 and 1 of item 1.
      expect([...second.values[0].subarray(0, 2 * HEAD_DIM)]).toEqual([18, 19, 20, 21, 22, 23]);
    });
  });
});
