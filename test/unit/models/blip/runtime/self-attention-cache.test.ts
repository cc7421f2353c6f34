import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipModel } from '../../../../../src/models/blip/runtime/blip-model.ts';
import type { CrossContext } from '../../../../../src/models/blip/runtime/cross-context.ts';
import { DecoderIO } from '../../../../../src/models/blip/graph-names.ts';
import { toPixelValues } from '../../../../../src/models/blip/runtime/preprocess.ts';
import { grownColumns, SelfAttentionCache, type NewColumns } from '../../../../../src/models/blip/runtime/self-attention-cache.ts';
import { OnnxSession } from '../../../../../src/runtime/onnx-session.ts';
import { decodeImage } from '../../../../../src/image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../../../src/config/defaults.ts';
import { readManifest, type VariantManifest } from '../../../../../src/variant/manifest.ts';
import { IMAGE_NAMES, maxAbsDiff, readImage } from '../../../../helpers/fixtures.ts';
import { useFixtureVariantDirs } from '../../../../helpers/converted-variant.ts';

/**
 * The self-attention cache buffer (self-attention-cache.ts) on the real decoder graph of the tiny caption fixture:
 * every logit a cached decoder returns is checked against the same history run from scratch in one prompt call (no
 * cache at all), through capacity growth, beam reorders, newcomers of every prompt length and compaction.
 */
const TOLERANCE = 1e-5;

interface Row {
  context: number;
  history: number[];
}

describe('self-attention cache buffer on the decoder graph', () => {
  const variants = useFixtureVariantDirs();
  let manifest: VariantManifest;
  let model: BlipModel;
  let contexts: CrossContext[];
  beforeAll(async () => {
    manifest = await readManifest(variants.caption);
    model = await BlipModel.load(variants.caption, manifest);
    const images = await Promise.all(IMAGE_NAMES.map((name) => decodeImage(readImage(name), DEFAULT_IMAGE_LIMITS)));
    const embeds = await model.encodeImages(toPixelValues(images, manifest.preprocess), images.length);
    contexts = await model.crossContexts(embeds, images.length, model.imageTokens, images.map(() => model.imageTokens));
  });
  afterAll(async () => {
    await model?.release();
  });

  /** The last position's logits of `row.history`, computed in one call from an empty cache. */
  async function fromScratch(row: Row): Promise<Float32Array> {
    const decoder = model.createDecoder([contexts[row.context]]);
    try {
      return await decoder.start([{ context: 0, tokens: row.history }]);
    } finally {
      decoder.dispose();
    }
  }

  async function expectRowsFromScratch(logits: Float32Array, rows: readonly Row[], label: string): Promise<void> {
    const vocab = manifest.dims.vocabSize;
    expect(logits).toHaveLength(rows.length * vocab);
    for (const [i, row] of rows.entries()) {
      expect(maxAbsDiff(logits.subarray(i * vocab, (i + 1) * vocab), await fromScratch(row)), `${label}, row ${i}`).toBeLessThanOrEqual(TOLERANCE);
    }
  }

  it('grows by doubling across a long caption (16 → 32 → 64 columns) and every step equals a run from scratch', async () => {
    const { bos } = manifest.tokenizer.ids;
    const decoder = model.createDecoder([contexts[0]]);
    const row: Row = { context: 0, history: [bos, 120] };
    await expectRowsFromScratch(await decoder.start([{ context: 0, tokens: row.history }]), [row], 'prompt');
    const capacities = new Set([decoder.cacheCapacity]);
    // Up to the fixture's 64 positions.
    for (let t = 0; t < 61; t++) {
      const token = 110 + ((t * 37) % 150);
      row.history.push(token);
      await expectRowsFromScratch(await decoder.next([0], [token]), [row], `step ${t}`);
      expect(decoder.cacheLength).toBe(row.history.length);
      expect(decoder.cacheCapacity).toBe(grownColumns(decoder.cacheLength, 0));
      capacities.add(decoder.cacheCapacity);
    }
    expect([...capacities]).toEqual([16, 32, 64]);
    decoder.dispose();
  });

  it('reorders beams in place: rows continuing other rows, duplicated, dropped and re-grown equal runs from scratch', async () => {
    const { bos } = manifest.tokenizer.ids;
    const decoder = model.createDecoder();
    const ids = [0, 1, 2].map((i) => decoder.addContext(contexts[i]));
    // Prompts of different lengths (left-padded in the first call), each row on its own image.
    let rows: Row[] = [
      { context: 0, history: [bos, 120] },
      { context: 1, history: [bos, 121, 122, 123] },
      { context: 2, history: [bos] },
    ];
    await expectRowsFromScratch(await decoder.start(rows.map((row) => ({ context: ids[row.context], tokens: row.history }))), rows, 'prompts');
    const steps = [[2, 0, 0, 1], [1, 1, 3, 0], [0, 1, 2, 3], [3, 2], [1, 1, 0, 0, 1], [4, 3, 2, 1, 0], [0]];
    for (const [n, parents] of steps.entries()) {
      const tokens = parents.map((_, i) => 130 + n * 10 + i);
      rows = parents.map((p, i) => ({ context: rows[p].context, history: [...rows[p].history, tokens[i]] }));
      await expectRowsFromScratch(await decoder.next(parents, tokens), rows, `step ${n} (parents ${parents.join(',')})`);
    }
    decoder.dispose();
  });

  it('admits newcomers longer and shorter than the cache, and cuts the columns of rows that left', async () => {
    const { bos } = manifest.tokenizer.ids;
    const decoder = model.createDecoder();
    const ids = contexts.map((context) => decoder.addContext(context));
    let rows: Row[] = [{ context: 0, history: [bos] }];
    await decoder.start([{ context: ids[0], tokens: rows[0].history }]);
    let n = 0;
    const advance = async (parents: number[], admitted: Row[] = []) => {
      const tokens = parents.map((_, i) => 140 + n * 3 + i);
      n++;
      const logits = await decoder.step(
        parents,
        tokens,
        admitted.map((row) => ({ context: ids[row.context], tokens: row.history })),
      );
      rows = [...parents.map((p, i) => ({ context: rows[p].context, history: [...rows[p].history, tokens[i]] })), ...admitted.map((row) => ({ ...row, history: [...row.history] }))];
      await expectRowsFromScratch(logits, rows, `call ${n}`);
    };
    await advance([0]);
    // A prompt of 6 tokens against a cache of 2 columns: the cache becomes as long as its prefill (5), the running
    // row's new columns masked; a prompt of 2 tokens is left-padded.
    await advance([0], [
      { context: 1, history: [bos, 150, 151, 152, 153, 154] },
      { context: 2, history: [bos, 155] },
    ]);
    expect(decoder.cacheLength).toBe(6);
    for (let i = 0; i < 8; i++) await advance([0, 1, 2]);
    // A one-token prompt sees none of the cache (its first column is 14); a 3-token prompt's prefill takes 12 and 13.
    await advance([0, 1, 2], [
      { context: 3, history: [bos] },
      { context: 4, history: [bos, 156, 157] },
    ]);
    for (let i = 0; i < 3; i++) await advance([0, 1, 2, 3, 4]);
    expect(decoder.cacheLength).toBe(18);
    expect(decoder.cacheCapacity).toBe(32);
    // The three first rows leave: nobody attends to columns 0…11 any more, and they are cut (18 − 12, + this step);
    // the buffer, now four times what is left, shrinks back.
    await advance([3, 4]);
    expect(decoder.cacheLength).toBe(7);
    expect(decoder.cacheCapacity).toBe(16);
    for (let i = 0; i < 3; i++) await advance([1, 1, 0]);
    decoder.dispose();
  });
});

describe('SelfAttentionCache', () => {
  const dims = { layers: 2, heads: 2, headDim: 3 };

  /** New columns whose every element names its row and column: row·100 + column (+ 0.5 for values). */
  function columns(rows: number, width: number, firstColumn: number): NewColumns {
    const tensor = (offset: number) => {
      const data = new Float32Array(rows * dims.heads * width * dims.headDim);
      for (let r = 0; r < rows; r++) {
        for (let h = 0; h < dims.heads; h++) {
          for (let w = 0; w < width; w++) data.fill(r * 100 + firstColumn + w + offset, ((r * dims.heads + h) * width + w) * dims.headDim, ((r * dims.heads + h) * width + w + 1) * dims.headDim);
        }
      }
      return new ort.Tensor('float32', data, [rows, dims.heads, width, dims.headDim]);
    };
    return { keys: [tensor(0), tensor(0)], values: [tensor(0.5), tensor(0.5)], masks: new Uint8Array(rows * width).fill(1), rows, width };
  }

  /** The key of `row`, head 0, at each of the first `length` columns. */
  function keyColumns(cache: SelfAttentionCache, rows: number, row: number, length: number): number[] {
    const data = cache.feeds(rows).keys[1].data as Float32Array;
    const base = row * dims.heads * cache.capacity * dims.headDim;
    return Array.from({ length }, (_, c) => data[base + c * dims.headDim]);
  }

  it('reorders rows and appends columns in the same buffers, the graph reading them as they are', () => {
    const cache = new SelfAttentionCache(dims, 4);
    cache.reset(columns(3, 2, 0));
    const buffer = (cache.feeds(3).keys[0].data as Float32Array).buffer;
    for (let step = 0; step < 5; step++) {
      cache.reorder(Int32Array.from([2, 0, 0]));
      cache.append(columns(3, 1, 2 + step));
      expect((cache.feeds(3).keys[0].data as Float32Array).buffer).toBe(buffer);
    }
    // Each step row 0 continues row 2 and rows 1 and 2 continue row 0, so the histories alternate between lineages.
    expect(keyColumns(cache, 3, 0, 7)).toEqual([200, 201, 2, 203, 4, 205, 6]);
    expect(keyColumns(cache, 3, 1, 7)).toEqual([0, 1, 202, 3, 204, 5, 106]);
    expect(keyColumns(cache, 3, 2, 7)).toEqual([0, 1, 202, 3, 204, 5, 206]);
    expect([...cache.mask(0).subarray(0, 8)]).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('keeps every column through growth, and a fresh row sees none of them', () => {
    const cache = new SelfAttentionCache(dims);
    cache.reset(columns(2, 15, 0));
    expect(cache.capacity).toBe(16);
    cache.append(columns(2, 1, 15));
    cache.append(columns(2, 1, 16));
    expect(cache.capacity).toBe(32);
    expect(keyColumns(cache, 2, 1, 17)).toEqual(Array.from({ length: 17 }, (_, c) => 100 + c));
    cache.reorder(Int32Array.from([1, -1, 0]));
    expect(keyColumns(cache, 3, 0, 17)).toEqual(Array.from({ length: 17 }, (_, c) => 100 + c));
    expect(keyColumns(cache, 3, 2, 17)).toEqual(Array.from({ length: 17 }, (_, c) => c));
    expect(cache.mask(1).every((m) => m === 0)).toBe(true);
    expect(cache.mask(2).subarray(0, 17).every((m) => m === 1)).toBe(true);
  });
});

describe('decoder step outputs', () => {
  const variants = useFixtureVariantDirs();

  it('are the logits and the new keys and values only: nothing grows with the cache', async () => {
    const manifest = await readManifest(variants.caption);
    const session = await OnnxSession.load(join(variants.caption, manifest.graphs.decoder));
    try {
      const { textLayers: layers, textHeads: heads, textHidden, imageTokens: M, vocabSize } = manifest.dims;
      const headDim = textHidden / heads;
      const newNames = Array.from({ length: layers }, (_, l) => [DecoderIO.newKey(l), DecoderIO.newValue(l)]).flat();
      expect([...session.outputNames].sort()).toEqual([DecoderIO.logits, ...newNames].sort());
      expect(session.inputNames).not.toContain('parents');
      const rows = 3;
      for (const capacity of [16, 64]) {
        const floats = (dims: number[]) => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.01), dims);
        const feeds: Record<string, ort.Tensor> = {
          [DecoderIO.inputIds]: new ort.Tensor('int64', new BigInt64Array(rows).fill(120n), [rows, 1]),
          [DecoderIO.positionIds]: new ort.Tensor('int64', new BigInt64Array(rows).fill(5n), [rows, 1]),
          [DecoderIO.selfBias]: floats([rows, 1, 1, capacity + 1]),
          [DecoderIO.crossBias]: floats([rows, 1, 1, M]),
        };
        for (let l = 0; l < layers; l++) {
          feeds[DecoderIO.pastKey(l)] = floats([rows, heads, capacity, headDim]);
          feeds[DecoderIO.pastValue(l)] = floats([rows, heads, capacity, headDim]);
          feeds[DecoderIO.crossKey(l)] = floats([rows, heads, headDim, M]);
          feeds[DecoderIO.crossValue(l)] = floats([rows, heads, M, headDim]);
        }
        const out = await session.run(feeds);
        expect(out[DecoderIO.logits].dims).toEqual([rows, vocabSize]);
        for (const name of newNames) expect(out[name].dims, `${name} at capacity ${capacity}`).toEqual([rows, heads, 1, headDim]);
      }
    } finally {
      await session.release();
    }
  });
});
