/**
 * The parts of a caption measured in-process on the runtime's BlipModel, one loaded model per precision, the
 * precisions interleaved repetition by repetition: the vision encoder at batch 1, 4 and 8 (GFLOP/s against the GEMM
 * probe), the cross-attention K/V of one image, and one decode step at 1, 4 and 16 rows with the bytes it touches.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import type { Precision, VariantManifest } from '../../src/variant/manifest.ts';
import { median, randomArray, round } from './common.ts';
import { rotate, summarize, type Summary } from './stats.ts';
import { decodeStepBytes as modelStepBytes } from '../../src/models/blip/runtime/decode-bytes.ts';
import { grownColumns } from '../../src/models/blip/runtime/self-attention-cache.ts';
import { decoderWeightBytesPerStep, readGraphShape, type StepBytes } from './step-bytes.ts';

export const VISION_BATCHES = [1, 4, 8] as const;
export const STEP_ROWS = [1, 4, 16] as const;
/** Decode steps timed per row count, after 2 untimed ones. */
const TIMED_STEPS = 8;

export interface LoadedModel {
  precision: Precision;
  dir: string;
  model: BlipModel;
}

export interface VisionDims {
  hidden: number;
  intermediate: number;
  layers: number;
  patch: number;
}

export interface VisionRow {
  precision: Precision;
  batch: number;
  gflops: number;
  ratio_to_gemm: number;
  ms_per_image: number;
  ms_per_image_stats: Summary;
}

/** FLOPs of one image through the vision encoder (matmuls and the patch convolution; see blip-spec §11.1). */
export function visionFlops(imageTokens: number, v: VisionDims): number {
  const D = v.hidden;
  const patchMacs = (imageTokens - 1) * D * 3 * v.patch * v.patch;
  const layerMacs = imageTokens * D * 3 * D + 2 * imageTokens * imageTokens * D + imageTokens * D * D + 2 * imageTokens * D * v.intermediate;
  return 2 * (patchMacs + v.layers * layerMacs);
}

export function visionDims(configJson: { vision_config?: Record<string, number> }): VisionDims {
  const v = configJson.vision_config ?? {};
  return { hidden: v.hidden_size ?? 768, intermediate: v.intermediate_size ?? 3072, layers: v.num_hidden_layers ?? 12, patch: v.patch_size ?? 16 };
}

/**
 * Vision encoder per image at each batch size: `reps` timed passes per (batch, precision), the precisions alternating
 * (and their order rotating) so that a noisy moment hits both alike.
 */
export async function measureVision(models: LoadedModel[], dims: VisionDims, gemm: number, reps: number, log: (m: string) => void): Promise<VisionRow[]> {
  const { width, height } = models[0].model.manifest.preprocess;
  const flops = visionFlops(models[0].model.manifest.dims.imageTokens, dims);
  const rows: VisionRow[] = [];
  for (const batch of VISION_BATCHES) {
    const pixels = randomArray(batch * 3 * width * height);
    for (const m of models) await m.model.encodeImages(pixels, batch); // warm-up: first pass at a new shape allocates
    const times = new Map<Precision, number[]>(models.map((m) => [m.precision, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const m of rotate(models, rep)) {
        const t0 = performance.now();
        await m.model.encodeImages(pixels, batch);
        times.get(m.precision)!.push((performance.now() - t0) / batch);
      }
    }
    for (const m of models) {
      const stats = summarize(times.get(m.precision)!, 3);
      const gflops = (flops * 1000) / median(times.get(m.precision)!) / 1e9;
      rows.push({ precision: m.precision, batch, gflops: round(gflops), ratio_to_gemm: round(gflops / gemm, 3), ms_per_image: stats.median, ms_per_image_stats: stats });
      log(`vision ${m.precision} batch ${batch}: ${stats.median} ms/image [${stats.min}–${stats.max}], ${gflops.toFixed(1)} GFLOP/s${m.precision === 'fp32' ? ` (${(gflops / gemm).toFixed(2)} of GEMM)` : ''}`);
    }
  }
  return rows;
}

export interface Components {
  cross_kv_ms_per_image: number;
  step_ms: Record<number, number>;
  step_ms_stats: Record<number, Summary>;
  /** Mean self-attention cache length over the timed steps (what step_bytes counts). */
  cached_tokens: number;
}

/** Cross K/V per image (best of 3) and one decode step at 1, 4, 16 rows (median of 8 steps), per precision. */
export async function measureDecodeParts(models: LoadedModel[], log: (m: string) => void): Promise<Record<string, Components>> {
  const out: Record<string, Components> = {};
  const maxRows = Math.max(...STEP_ROWS);
  const prepared = [];
  for (const m of models) {
    const { manifest } = m.model;
    const tokens = m.model.imageTokens;
    const states = randomArray(maxRows * tokens * manifest.dims.visionHidden);
    const contexts = await m.model.crossContexts(states, maxRows, tokens, new Array(maxRows).fill(tokens));
    let crossKv = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await m.model.crossContexts(states.subarray(0, tokens * manifest.dims.visionHidden), 1, tokens, [tokens]);
      crossKv = Math.min(crossKv, performance.now() - t0);
    }
    prepared.push({ m, contexts });
    out[m.precision] = { cross_kv_ms_per_image: round(crossKv), step_ms: {}, step_ms_stats: {}, cached_tokens: 0 };
  }
  for (const rows of STEP_ROWS) {
    for (const { m, contexts } of prepared) {
      const { manifest } = m.model;
      const decoder = m.model.createDecoder([], { capacityHint: rows });
      const ids = contexts.slice(0, rows).map((context) => decoder.addContext(context));
      await decoder.start(ids.map((context) => ({ tokens: [manifest.tokenizer.ids.bos], context })));
      const parents = ids.map((_, i) => i);
      const next = parents.map(() => manifest.tokenizer.ids.bos + 1);
      const times = [];
      for (let i = 0; i < 2 + TIMED_STEPS; i++) {
        const t0 = performance.now();
        await decoder.next(parents, next);
        times.push(performance.now() - t0);
      }
      decoder.dispose();
      const stats = summarize(times.slice(2), 2);
      out[m.precision].step_ms[rows] = stats.median;
      out[m.precision].step_ms_stats[rows] = stats;
      // Step i (0-based, after start() cached [bos]) attends over 2 + i tokens: the cache and the token it adds.
      out[m.precision].cached_tokens = 2 + (2 + 1 + TIMED_STEPS) / 2;
      log(`decode step ${m.precision} ${rows} row(s): ${stats.median} ms [${stats.min}–${stats.max}]`);
    }
  }
  for (const { m } of prepared) log(`cross K/V ${m.precision}: ${out[m.precision].cross_kv_ms_per_image} ms per image`);
  return out;
}

/** Bytes a decode step touches at each row count (see step-bytes.ts), from the variant's decoder graph and manifest. */
export async function decodeStepBytes(dir: string, manifest: VariantManifest, cachedTokens: number): Promise<Record<number, StepBytes>> {
  const shape = await readGraphShape(join(dir, manifest.graphs.decoder));
  const out: Record<number, StepBytes> = {};
  for (const rows of STEP_ROWS) {
    // The runtime's count of K/V and cache bytes; the weights counted from the graph itself (embedding rows only).
    // The graph reads the cache buffer whole: the capacity the runtime holds at that length.
    const { crossKv, selfCache } = modelStepBytes(manifest, rows, grownColumns(Math.ceil(cachedTokens), 0));
    const weights = decoderWeightBytesPerStep(shape.initializers, shape.nodes, rows);
    out[rows] = { weights, cross_kv: crossKv, self_cache: selfCache, total: weights + crossKv + selfCache };
  }
  return out;
}
