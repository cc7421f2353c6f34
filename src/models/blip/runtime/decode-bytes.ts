import type { VariantManifest } from '../../../variant/manifest.ts';

/**
 * The memory one decode step must read, by kind, for `rows` rows whose self-attention cache is `cacheLength` long
 * and whose cross-attention contexts are `encoderLength` long (image tokens for captions). A decode step multiplies
 * every row by every weight once and each row by its own cached K/V, so at small batch sizes its time is bounded by
 * these bytes over the memory bandwidth; step time next to them shows how close a step runs to that bound.
 *
 * Counted: the decoder's weights (its external data file, less the embedding tables, of which a step gathers only
 * `rows` rows), each row's cross-attention K/V at the variant's `crossKvPrecision` (with int8's per-token scales), and
 * each row's self-attention cache (float32, read by the graph's Gather and again by its Concat). Activations are left
 * out: they are a few hundred KB per row and stay in cache.
 */
export interface DecodeStepBytes {
  weights: number;
  crossKv: number;
  selfCache: number;
  total: number;
}

const ELEMENT_BYTES = { fp32: 4, fp16: 2, int8: 1 } as const;

/** The manifest fields the count reads. */
export type DecodeBytesManifest = Pick<VariantManifest, 'name' | 'graphs' | 'files' | 'dims' | 'crossKvPrecision'>;

export function decodeStepBytes(manifest: DecodeBytesManifest, rows: number, cacheLength: number, encoderLength = manifest.dims.imageTokens): DecodeStepBytes {
  const { textLayers, textHidden, vocabSize, maxPositions, textHeads } = manifest.dims;
  const data = manifest.files[`${manifest.graphs.decoder}.data`]?.bytes;
  if (data === undefined) throw new Error(`${manifest.name}: the manifest lists no weight file for ${manifest.graphs.decoder}`);
  // Word and position embeddings stay float32 in every precision (quantize.ts leaves Gather tables alone).
  const embeddingTables = (vocabSize + maxPositions) * textHidden * 4;
  const weights = Math.max(0, data - embeddingTables);
  const precision = manifest.crossKvPrecision ?? 'fp32';
  // Keys and values of every layer: heads × headDim = hidden elements per token; int8 adds a float scale per head.
  const perTokenLayer = 2 * (textHidden * ELEMENT_BYTES[precision] + (precision === 'int8' ? textHeads * 4 : 0));
  const crossKv = rows * textLayers * encoderLength * perTokenLayer;
  const selfCache = 2 * rows * textLayers * 2 * cacheLength * textHidden * 4;
  return { weights, crossKv, selfCache, total: weights + crossKv + selfCache };
}
