import type { VariantManifest } from '../../variant/manifest.ts';
import type { WorkingMemory, WorkingMemorySettings } from '../family.ts';
import { MAX_BEAMS } from './engine/request-plan.ts';
import { crossContextBytes, selfAttentionBytes } from './runtime/decode-bytes.ts';

/** The engine settings that bound a BLIP variant's working memory, with the defaults the runtime applies. */
export const BLIP_MEMORY_DEFAULTS = {
  maxRows: 16,
  // 4, not 8: an admitted image's fp32 context (42.5 MB at blip-base) is held on its own until the next step copies it
  // into a slot, beside the batch it joins. blip-base fp32 at concurrency 16 (`npm run bench:memory`, two runs each,
  // quiet machine): peak RSS 1799 / 1832 MiB against 2289 / 2266, in the same time (10.9 / 11.4 s per 16 captions
  // against 11.2 / 10.8); int8 814 against 856 MiB.
  maxAdmitPerStep: 4,
  // A submitted group is admitted whole (one encoder pass), even when larger than maxAdmitPerStep: the gateway's
  // groups are its DataLoader batches (registry DEFAULT_BATCHING.maxBatchSize).
  maxGroupItems: 8,
  // One image per vision run: on CPU an image costs more in a batch (blip-base fp32 720 ms alone, 877 ms per image
  // at 4, 1288 at 8; int8 303 / 393 / 495: `npm run bench`), and its activations stay those of one image.
  maxVisionBatch: 1,
  embeddingCacheBytes: 64 * 1024 * 1024,
} as const;

/**
 * What one worker needs besides its weights and the parts below: the worker thread's V8 isolate, the tokenizer,
 * ONNX Runtime's per-session buffers and the graphs' small activations (cross K/V, question encoder, logits).
 * Measured with blip-base: RSS of a loaded, idle server minus its weights and minus the same server with no
 * variant loaded (docs in /work/notes/s10/memory.md; `tools/bench/memory-probe.ts`).
 */
export const FIXED_OVERHEAD_BYTES = 96 * 1024 * 1024;

/** Every BLIP vision transformer has 64-dimensional attention heads (ViT-B/16: 12 × 64, ViT-L/16: 16 × 64). */
const VISION_HEAD_DIM = 64;
const FLOAT = 4;

/**
 * The most memory a loaded BLIP variant's worker uses beyond its weights, given its settings (ModelFamily
 * `workingMemory`). Every term is a product of settings and the manifest's dimensions:
 *
 * - rows × per-row bytes, rows being `maxRows`, or MAX_BEAMS when larger (a beam request wider than `maxRows` still
 *   runs, alone). A row reads one cross-attention context (K/V of every layer over M encoder positions: the
 *   image tokens, or up to `tokenizer.maxLength` question tokens), held once: its slot in the decoder's batched
 *   input, the only copy once it is there (CrossBatch drops the context's own arrays). Its self-attention cache is
 *   a buffer the graph reads in place (runtime/self-attention-cache.ts): a row spans at most `maxPositions` columns,
 *   and the buffer doubles when full and cuts dead columns only once they are a quarter of it, so it is counted at
 *   twice that.
 * - vision batch × activation bytes per image: ONNX Runtime's peak inside the vision encoder is the attention scores
 *   and their softmax (heads × T², three live at once) and the MLP's intermediate (T × 4·hidden, four live at once).
 *   Measured on blip-base fp32: 66 MB at batch 1, 73 MB per image at 8; this gives 76 MB.
 * - admitted per pass × (pixels + embedding + context), that many being `maxAdmitPerStep` or the largest submitted
 *   group (`maxGroupItems`), which goes whole: an encoder pass decodes every newcomer's image first and
 *   keeps the embeddings until their cross K/V is computed; a newcomer's context is held on its own (the cross K/V
 *   graph's output) until the next step copies it into a slot.
 * - the embedding cache's byte limit.
 * - a fixed overhead (FIXED_OVERHEAD_BYTES).
 */
export function blipWorkingMemory(manifest: VariantManifest, settings: WorkingMemorySettings = {}): WorkingMemory {
  const rows = Math.max(settings.maxRows ?? BLIP_MEMORY_DEFAULTS.maxRows, MAX_BEAMS);
  const admitted = Math.max(settings.maxAdmitPerStep ?? BLIP_MEMORY_DEFAULTS.maxAdmitPerStep, settings.maxGroupItems ?? BLIP_MEMORY_DEFAULTS.maxGroupItems);
  const visionBatch = settings.maxVisionBatch ?? BLIP_MEMORY_DEFAULTS.maxVisionBatch;
  const cacheBytes = settings.embeddingCacheBytes ?? BLIP_MEMORY_DEFAULTS.embeddingCacheBytes;
  const { dims, preprocess } = manifest;
  const contextLength = manifest.task === 'caption' ? dims.imageTokens : manifest.tokenizer.maxLength;
  const context = crossContextBytes(manifest, contextLength);
  const perRow = context + 2 * selfAttentionBytes(manifest, dims.maxPositions);
  const tokens = dims.imageTokens;
  const heads = dims.visionHidden / VISION_HEAD_DIM;
  const activations = FLOAT * (3 * heads * tokens * tokens + 4 * tokens * 4 * dims.visionHidden);
  const pixels = FLOAT * 3 * preprocess.width * preprocess.height;
  const embedding = FLOAT * tokens * dims.visionHidden;
  const parts = {
    rows: rows * perRow,
    visionBatch: visionBatch * activations,
    admittedImages: admitted * (pixels + embedding + context),
    embeddingCache: cacheBytes,
    fixed: FIXED_OVERHEAD_BYTES,
  };
  return { totalBytes: Object.values(parts).reduce((sum, bytes) => sum + bytes, 0), parts };
}
