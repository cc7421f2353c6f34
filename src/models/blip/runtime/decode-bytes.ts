import type { VariantManifest } from '../../../variant/manifest.ts';

/**
 * The memory one decode step must read, by kind, for `rows` rows whose self-attention cache buffer holds
 * `cacheColumns` columns and whose cross-attention contexts are `encoderLength` long (image tokens for captions). A decode step multiplies
 * every row by every weight once and each row by its own cached K/V, so at small batch sizes its time is bounded by
 * these bytes over the memory bandwidth; step time next to them shows how close a step runs to that bound.
 *
 * Counted: the decoder's weights (its external data file, less the embedding tables, of which a step gathers only
 * `rows` rows), each row's cross-attention K/V at the variant's `crossKvPrecision` (with int8's per-token scales), and
 * each row's self-attention cache (float32, read once: the graph reads the runtime's buffer whole, unused capacity
 * included, and copies none of it). Activations are left out: they are a few hundred KB per row and stay in cache.
 */
export interface DecodeStepBytes {
  weights: number;
  crossKv: number;
  selfCache: number;
  total: number;
}

const ELEMENT_BYTES = { fp32: 4, fp16: 2, int8: 1 } as const;
const FLOAT = 4;

/** The manifest fields the counts read. */
export type DecodeBytesManifest = Pick<VariantManifest, 'name' | 'graphs' | 'files' | 'dims' | 'crossKvPrecision'>;

export function decodeStepBytes(manifest: DecodeBytesManifest, rows: number, cacheColumns: number, encoderLength = manifest.dims.imageTokens): DecodeStepBytes {
  const { textHidden, vocabSize, maxPositions } = manifest.dims;
  const data = manifest.files[`${manifest.graphs.decoder}.data`]?.bytes;
  if (data === undefined) throw new Error(`${manifest.name}: the manifest lists no weight file for ${manifest.graphs.decoder}`);
  // Word and position embeddings stay float32 in every precision (quantize.ts leaves Gather tables alone).
  const embeddingTables = (vocabSize + maxPositions) * textHidden * FLOAT;
  const weights = Math.max(0, data - embeddingTables);
  const crossKv = rows * crossContextBytes(manifest, encoderLength);
  const selfCache = rows * selfAttentionBytes(manifest, cacheColumns);
  return { weights, crossKv, selfCache, total: weights + crossKv + selfCache };
}

/**
 * One cross-attention context of `positions` encoder positions: keys and values of every layer in the manifest's
 * `crossKvPrecision` (fp32 when absent; int8 adds one float scale per head and position for keys and values), and
 * its attention mask. The decode step reads it once per row; the memory bound holds it per row.
 */
export function crossContextBytes(manifest: Pick<VariantManifest, 'dims' | 'crossKvPrecision'>, positions: number): number {
  const { textLayers, textHidden, textHeads } = manifest.dims;
  const precision = manifest.crossKvPrecision ?? 'fp32';
  const scales = precision === 'int8' ? 2 * textLayers * textHeads * positions * FLOAT : 0;
  return 2 * textLayers * textHidden * positions * ELEMENT_BYTES[precision] + scales + FLOAT * positions;
}

/** One row's self-attention cache at `positions` columns: float32 keys and values of every layer. */
export function selfAttentionBytes(manifest: Pick<VariantManifest, 'dims'>, positions: number): number {
  const { textLayers, textHidden } = manifest.dims;
  return 2 * textLayers * textHidden * positions * FLOAT;
}
