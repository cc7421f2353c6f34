import { performance } from 'node:perf_hooks';
import { serializeError, type SerializedError } from '../../../backend/items.ts';
import { decodeImage, type ImageLimits } from '../../../image/decode.ts';
import type { VariantManifest } from '../../../variant/manifest.ts';
import type { BlipModel } from '../runtime/blip-model.ts';
import type { CrossContext } from '../runtime/cross-context.ts';
import { toPixelValues } from '../runtime/preprocess.ts';
import type { CostEstimates } from './admission.ts';
import type { ContextTable } from './context-table.ts';
import type { EmbeddingCache } from './embedding-cache.ts';
import type { Job } from './job.ts';

export interface EncoderDeps {
  manifest: VariantManifest;
  model: BlipModel;
  cache: EmbeddingCache;
  estimates: CostEstimates;
  contexts: ContextTable;
  imageLimits: ImageLimits;
  autoOrient: boolean;
  /** Images per vision encoder run (see EngineOptions). */
  maxVisionBatch: number;
  /** Fails one request wherever it is (the engine's `fail`). */
  fail: (job: Job, error: SerializedError) => void;
}

/** What one encoder pass produced: the contexts the decoder does not hold yet, and how many images the vision encoder saw. */
export interface EncodedContexts {
  created: Array<{ key: string; context: CrossContext }>;
  visionImages: number;
}

/**
 * The newcomers' encoder pass, batched among them: image decoding and preprocessing, the vision encoder (or the
 * embedding cache), then the question encoder and cross K/V. An image whose embedding is cached, or whose caption
 * context a running request holds, is not even decoded; one image shared by several newcomers is decoded and encoded
 * once. A request whose image cannot be decoded fails alone.
 */
export async function runEncoderPass(deps: EncoderDeps, picked: readonly Job[]): Promise<EncodedContexts> {
  const pixels = await preprocess(deps, picked);
  const encodeStartedAt = performance.now();
  const { embeddings, visionImages } = await imageEmbeddings(deps, picked, pixels);
  const created = await crossContexts(deps, picked, embeddings);
  const encodeMs = performance.now() - encodeStartedAt;
  for (const job of picked) {
    job.encodeMs = encodeMs;
    job.encoderBatch = visionImages;
  }
  return { created, visionImages };
}

/** The cache key of a request's image, computed once. */
export function imageKeyOf(cache: EmbeddingCache, job: Job): string {
  if (job.imageKey === '') job.imageKey = cache.keyOf(job.item.image);
  return job.imageKey;
}

async function preprocess(deps: EncoderDeps, picked: readonly Job[]): Promise<Map<string, Float32Array>> {
  const { cache, contexts } = deps;
  const startedAt = performance.now();
  const decoding = new Map<string, Promise<Float32Array>>();
  for (const job of picked) {
    const key = imageKeyOf(cache, job);
    if (job.kind === 'caption') {
      job.contextKey = key;
      // A caption of an image another running request is captioning reads the same context: pin it now.
      if (contexts.has(key)) {
        contexts.attach(job);
        job.cacheHit = true;
        cache.countHit();
        continue;
      }
    }
    if (decoding.has(key) || cache.has(key)) continue;
    decoding.set(key, pixelsOf(deps, job.item.image));
  }
  const pixels = new Map<string, Float32Array>();
  await Promise.all(
    [...decoding].map(async ([key, pending]) => {
      try {
        pixels.set(key, await pending);
      } catch (error) {
        for (const job of picked) if (job.imageKey === key) deps.fail(job, serializeError(error));
      }
    }),
  );
  const preprocessMs = performance.now() - startedAt;
  for (const job of picked) job.preprocessMs = preprocessMs;
  return pixels;
}

/** Image embeddings by image key for the newcomers that need one: from the cache, or one vision encoder pass. */
async function imageEmbeddings(deps: EncoderDeps, picked: readonly Job[], pixels: Map<string, Float32Array>): Promise<{ embeddings: Map<string, Float32Array>; visionImages: number }> {
  const { cache, model, manifest } = deps;
  const embeddings = new Map<string, Float32Array>();
  const toEncode: string[] = [];
  for (const job of picked) {
    if (job.done || job.attached) continue;
    const key = job.imageKey;
    if (embeddings.has(key) || toEncode.includes(key)) {
      job.cacheHit = true;
      cache.countHit();
      continue;
    }
    const cached = cache.get(key);
    if (cached) {
      job.cacheHit = true;
      embeddings.set(key, cached);
      continue;
    }
    // Cached when preprocessing looked, gone now: only if the cache is smaller than one embedding, or cleared.
    if (!pixels.has(key)) pixels.set(key, await pixelsOf(deps, job.item.image));
    toEncode.push(key);
  }
  const perImage = model.imageTokens * manifest.dims.visionHidden;
  // In chunks of maxVisionBatch (default 1): the encoder's activations grow with its batch (about 75 MB per base-size
  // image), and on a CPU its time per image grows too (blip-base: 720 ms alone, 877 ms each at 4; `npm run bench`).
  for (let start = 0; start < toEncode.length; start += deps.maxVisionBatch) {
    const chunk = toEncode.slice(start, start + deps.maxVisionBatch);
    const startedAt = performance.now();
    const embeds = await model.encodeImages(concat(chunk.map((key) => pixels.get(key) as Float32Array)), chunk.length);
    deps.estimates.observeVision(performance.now() - startedAt, chunk.length);
    chunk.forEach((key, i) => {
      const embedding = embeds.subarray(i * perImage, (i + 1) * perImage);
      embeddings.set(key, embedding);
      cache.set(key, embedding);
      // The pixels are no longer needed: free them before the next chunk runs.
      pixels.delete(key);
    });
  }
  return { embeddings, visionImages: toEncode.length };
}

/** Cross K/V of the contexts the newcomers need that the decoder does not hold yet. */
async function crossContexts(deps: EncoderDeps, picked: readonly Job[], embeddings: Map<string, Float32Array>): Promise<Array<{ key: string; context: CrossContext }>> {
  const { model, manifest, estimates, contexts } = deps;
  const tokens = model.imageTokens;
  if (manifest.task === 'caption') {
    const keys = [...new Set(picked.filter((job) => !job.done && !job.attached).map((job) => job.contextKey as string))];
    if (keys.length === 0) return [];
    // One image per run, like the vision encoder: for a pass of 8 blip-base images every int8 K or V tensor was 3.4 MB,
    // each allocated twice by ONNX Runtime and copied once into JavaScript, and under the fixed MALLOC_MMAP_THRESHOLD_
    // the server then ran with, all fresh mappings (about 10,000 page faults per caption at c16, `strace -k` on a c16
    // wave). One image's are 0.4 MB, small blocks any allocator reuses; the products are as large per image either way.
    const startedAt = performance.now();
    const created: CrossContext[] = [];
    for (const key of keys) created.push(...(await model.crossContexts(embeddings.get(key) as Float32Array, 1, tokens, [tokens])));
    estimates.observeContexts(performance.now() - startedAt, keys.length);
    return keys.map((key, i) => ({ key, context: created[i] }));
  }
  const live = picked.filter((job) => !job.done);
  if (live.length === 0) return [];
  const startedAt = performance.now();
  const embeds = concat(live.map((job) => embeddings.get(job.imageKey) as Float32Array));
  const questions = live.map((job) => job.question as number[]);
  const { states, paddedLength } = await model.encodeQuestions(embeds, questions);
  const created = await model.crossContexts(states, live.length, paddedLength, questions.map((q) => q.length));
  estimates.observeContexts(performance.now() - startedAt, live.length);
  return live.map((job, i) => {
    job.contextKey = contexts.questionKey();
    return { key: job.contextKey, context: created[i] };
  });
}

async function pixelsOf(deps: EncoderDeps, image: Uint8Array): Promise<Float32Array> {
  const { preprocess: config } = deps.manifest;
  const rgb = await decodeImage(image, deps.imageLimits, { autoOrient: deps.autoOrient });
  const pixels = toPixelValues([rgb], config);
  const expected = 3 * config.width * config.height;
  if (pixels.length !== expected) throw new Error(`preprocessing produced ${pixels.length} values, expected ${expected}`);
  return pixels;
}

/**
 * The parts end to end. One part is passed as it is (the model only reads its input): a lone caption's pixels and
 * image embedding are not copied again (2 × 1.8 MB less per blip-base image, fewer garbage collections).
 */
function concat(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
