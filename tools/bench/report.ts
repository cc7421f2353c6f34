/**
 * The bench's result: the JSON written with `--json` (every key listed in README's bench section) and the table
 * printed on stdout. Derived figures (gains, speedups, ratios) are computed here from the measured ones.
 */
import { DEFAULT_INTRA_OP_THREADS } from '../../src/runtime/onnx-session.ts';
import type { Precision } from '../../src/variant/manifest.ts';
import { round } from './common.ts';
import type { Components, VisionRow } from './model-parts.ts';
import { bucketCounts } from './prometheus.ts';
import { formatSummary, type Summary } from './stats.ts';
import type { StepBytes } from './step-bytes.ts';
import type { TorchResult } from './torch-side.ts';
import type { ServingResults } from './serving-phase.ts';

/** Everything measured: the serving phase's results (serving-phase.ts) and the in-process parts. */
export interface Measurements extends Omit<ServingResults, 'interleaved'> {
  model: string;
  quick: boolean;
  reps: number;
  tokens: number;
  precisions: Precision[];
  loadAverage: { start: number[]; end: number[] };
  durationS: number;
  gemm: number;
  vision: VisionRow[];
  components: Record<string, Components>;
  stepBytes: Record<string, Record<number, StepBytes>>;
  raw: Record<string, Summary>;
  c64Requests: number;
  benchPeakRssMb: number;
  quality: { embedding_cosine: number; embedding_cosine_mean: number; top1_agreement: number; images: number; steps: number; passed: boolean } | null;
  torch: TorchResult | null;
  /** What ran side by side in the HTTP cells. */
  interleaved: string;
}

const perPrecision = <T>(precisions: Precision[], f: (p: Precision) => T): Record<string, T> => Object.fromEntries(precisions.map((p) => [p, f(p)]));
const ratio = (a: number | undefined, b: number | undefined, digits = 3) => (a === undefined || b === undefined || b === 0 ? null : round(a / b, digits));

/**
 * The best gain batching can give at concurrency 16, from the measured parts of one caption: each image still needs
 * its own vision pass and cross K/V (they cost the same per image at any batch size on CPU), and only the decode steps
 * are shared. Unbatched: V1 + C + n·s(1); batched at best: min(V1, V8) + C + n·s(16)/16.
 */
export function batchingCeiling(vision: VisionRow[], parts: Components, tokens: number, precision: Precision): number {
  const v1 = vision.find((v) => v.batch === 1 && v.precision === precision)!.ms_per_image;
  const v8 = vision.find((v) => v.batch === 8 && v.precision === precision)!.ms_per_image;
  const steps = tokens - 1;
  const alone = v1 + parts.cross_kv_ms_per_image + steps * parts.step_ms[1];
  const shared = Math.min(v1, v8) + parts.cross_kv_ms_per_image + (steps * parts.step_ms[16]) / 16;
  return alone / shared;
}

export function buildResult(m: Measurements) {
  const ps = m.precisions;
  const cell = (p: Precision, c: number, batching: boolean) => m.cells.find((x) => x.precision === p && x.concurrency === c && x.batching === batching);
  const bestVision = (p: Precision) => Math.min(...m.vision.filter((v) => v.precision === p).map((v) => v.ms_per_image));
  const both = ps.includes('fp32') && ps.includes('int8');
  const c16Rate = (p: Precision) => cell(p, 16, true)?.throughput_per_s;
  const torchMs = m.torch?.median_caption_ms;
  return {
    model: m.model,
    quick: m.quick,
    repetitions: m.reps,
    precisions: ps,
    interleaved: m.interleaved,
    tokens_per_caption: m.tokens,
    load_average: { start: m.loadAverage.start.map((x) => round(x, 2)), end: m.loadAverage.end.map((x) => round(x, 2)) },
    duration_s: round(m.durationS),
    // Every session here (in-process parts and serving processes) runs with the runtime's default thread count.
    intra_op_threads: DEFAULT_INTRA_OP_THREADS,
    gemm_gflops: round(m.gemm),
    vision: m.vision,
    raw_caption_ms: perPrecision(ps, (p) => m.raw[p].median),
    raw_caption_ms_stats: m.raw,
    caption: m.cells,
    batching_gain: perPrecision(ps, (p) => Object.fromEntries(Object.entries(m.gains[p]).map(([k, s]) => [k, s.median]))),
    batching_gain_stats: m.gains,
    batching_gain_c16: perPrecision(ps, (p) => m.gains[p].c16?.median ?? null),
    components: m.components,
    batching_gain_ceiling_c16: perPrecision(ps, (p) => round(batchingCeiling(m.vision, m.components[p], m.tokens, p), 3)),
    gateway_overhead: perPrecision(ps, (p) => round((cell(p, 1, true)?.p50_ms ?? NaN) / m.raw[p].median - 1, 4)),
    decode_step_ms: perPrecision(ps, (p) => m.components[p].step_ms),
    decode_step_bytes: perPrecision(ps, (p) => Object.fromEntries(Object.entries(m.stepBytes[p]).map(([rows, b]) => [rows, b.total]))),
    decode_step_bytes_parts: m.stepBytes,
    decode_step_gb_per_s: perPrecision(ps, (p) => Object.fromEntries(Object.entries(m.stepBytes[p]).map(([rows, b]) => [rows, round(b.total / (m.components[p].step_ms[Number(rows)] / 1000) / 1e9, 2)]))),
    decode_step_ratio_16_to_1: perPrecision(ps, (p) => ratio(m.components[p].step_ms[16], m.components[p].step_ms[1])),
    int8_vision_speedup: both ? ratio(bestVision('fp32'), bestVision('int8')) : null,
    int8_caption_speedup_c1: both ? ratio(cell('fp32', 1, true)?.p50_ms, cell('int8', 1, true)?.p50_ms) : null,
    int8_quality: m.quality,
    encoder_batch_sizes_c16: perPrecision(ps, (p) => ({
      passes: m.encoderBatchesC16[p].count,
      mean: m.encoderBatchesC16[p].count ? round(m.encoderBatchesC16[p].sum / m.encoderBatchesC16[p].count, 2) : null,
      histogram: bucketCounts(m.encoderBatchesC16[p]),
    })),
    serving_peak_rss_mb: perPrecision(ps, (p) => m.peakAfterC16Mb[p]),
    serving_peak_rss_mb_c64: perPrecision(ps, (p) => m.peakAfterC64Mb[p] ?? null),
    serving_c64_over_c16: perPrecision(ps, (p) => ratio(m.peakAfterC64Mb[p], m.peakAfterC16Mb[p])),
    serving_peak_rss_mb_unbatched: perPrecision(ps, (p) => m.unbatchedPeakMb[p]),
    c64_requests: m.c64Requests,
    load_ms: perPrecision(ps, (p) => m.loads[p].metric.median),
    load_ms_client: perPrecision(ps, (p) => m.loads[p].client.median),
    load_ms_stats: m.loads,
    load_ms_cold: m.coldLoads ? perPrecision(ps, (p) => round(m.coldLoads![p].metricMs)) : null,
    torch: m.torch,
    torch_caption_ms: torchMs === undefined ? null : round(torchMs),
    speedup_vs_torch: torchMs === undefined ? null : perPrecision(ps, (p) => ratio(torchMs, m.raw[p].median, 2)),
    speedup_vs_torch_c16: torchMs === undefined ? null : perPrecision(ps, (p) => ratio(torchMs, c16Rate(p) ? 1000 / c16Rate(p)! : undefined, 2)),
    peak_rss_mb: round(m.benchPeakRssMb),
  };
}

export type BenchResult = ReturnType<typeof buildResult>;

export function formatTable(r: BenchResult): string {
  const flagged = countFlagged(r);
  const lines = [
    `model ${r.model} (random weights), ${r.tokens_per_caption} tokens per caption, ${r.repetitions} repetition(s)${r.quick ? ', quick' : ''}, ${r.duration_s} s`,
    `load average (1/5/15 min): start ${r.load_average.start.join(' ')}, end ${r.load_average.end.join(' ')}${r.load_average.start[0] > 0.5 ? '   !! machine not quiet at start' : ''}`,
    `figures as median [min–max]; !SPREAD marks (max−min)/median over 25 % (${flagged} figures flagged)`,
    `GEMM rate: ${r.gemm_gflops} GFLOP/s; ONNX Runtime intra-op threads: ${r.intra_op_threads}`,
    'vision encoder: precision | batch | ms per image | GFLOP/s | ratio to GEMM',
    ...r.vision.map((v) => `  ${v.precision} | ${v.batch} | ${formatSummary(v.ms_per_image_stats)} | ${v.gflops} | ${v.ratio_to_gemm}`),
    `raw runtime caption (in-process, no HTTP): ${r.precisions.map((p) => `${p} ${formatSummary(r.raw_caption_ms_stats[p])} ms`).join(', ')}`,
    `caption over HTTP GraphQL (interleaved: ${r.interleaved}): precision | concurrency | batching | requests×reps | captions/s | p50 ms | p95 ms`,
    ...r.caption.map(
      (c) =>
        `  ${c.precision} | ${c.concurrency} | ${c.batching ? 'on' : 'off'} | ${c.requests}×${c.repetitions} | ${formatSummary(c.stats.throughput_per_s)} | ${formatSummary(c.stats.p50_ms)} | ${formatSummary(c.stats.p95_ms)}`,
    ),
    ...r.precisions.map(
      (p) =>
        `batching gain ${p}: ${Object.entries(r.batching_gain_stats[p]).map(([c, s]) => `${c} ${formatSummary(s)}`).join(', ')} (c16 ceiling from the parts: ${r.batching_gain_ceiling_c16[p]}x)`,
    ),
    ...r.precisions.map((p) => {
      const e = r.encoder_batch_sizes_c16[p];
      return `encoder pass sizes at c16 ${p}: ${e.passes} passes, mean ${e.mean} images: ${JSON.stringify(e.histogram)}`;
    }),
    'decode step: precision | rows | ms | MB touched (weights + cross K/V + self cache) | GB/s',
    ...r.precisions.flatMap((p) =>
      Object.entries(r.decode_step_bytes_parts[p]).map(
        ([rows, b]) =>
          `  ${p} | ${rows} | ${formatSummary(r.components[p].step_ms_stats[Number(rows)])} | ${(b.total / 1e6).toFixed(1)} (${(b.weights / 1e6).toFixed(1)} + ${(b.cross_kv / 1e6).toFixed(1)} + ${(b.self_cache / 1e6).toFixed(1)}) | ${r.decode_step_gb_per_s[p][rows]}`,
      ),
    ),
    `decode step 16 rows / 1 row: ${r.precisions.map((p) => `${p} ${r.decode_step_ratio_16_to_1[p]}x`).join(', ')}; cross K/V per image: ${r.precisions.map((p) => `${p} ${r.components[p].cross_kv_ms_per_image} ms`).join(', ')}`,
    `gateway overhead at concurrency 1: ${r.precisions.map((p) => `${p} ${(r.gateway_overhead[p] * 100).toFixed(1)} %`).join(', ')}`,
    `serving process peak RSS (batched variant alone): after c16 ${r.precisions.map((p) => `${p} ${r.serving_peak_rss_mb[p]} MB`).join(', ')}; after c64 (${r.c64_requests} requests) ${r.precisions.map((p) => `${p} ${r.serving_peak_rss_mb_c64[p]} MB (${r.serving_c64_over_c16[p]}x)`).join(', ')}`,
    `  unbatched variant's process: ${r.precisions.map((p) => `${p} ${r.serving_peak_rss_mb_unbatched[p]} MB`).join(', ')}`,
    `load in the server (blip_model_load_seconds, page cache warm): ${r.precisions.map((p) => `${p} ${formatSummary(r.load_ms_stats[p].metric)} ms (client ${r.load_ms_client[p]} ms)`).join(', ')}${r.load_ms_cold ? `; cold disk ${r.precisions.map((p) => `${p} ${r.load_ms_cold![p]} ms`).join(', ')}` : ''}`,
  ];
  if (r.int8_vision_speedup !== null) lines.push(`int8 speedup: vision ${r.int8_vision_speedup}x (best batch each), caption at c1 p50 ${r.int8_caption_speedup_c1}x`);
  if (r.int8_quality) {
    const q = r.int8_quality;
    lines.push(`int8 quality (${q.images} images, ${q.steps} steps): embedding cosine min ${q.embedding_cosine.toFixed(5)}, top-1 agreement ${(q.top1_agreement * 100).toFixed(1)} % (gate 0.99 / 97 %: ${q.passed ? 'met' : 'NOT met'})`);
  }
  if (r.torch) {
    lines.push(
      `PyTorch ${r.torch.torch_version} (${r.torch.threads} threads, KV cache on, cross K/V recomputed per step): ${r.torch_caption_ms} ms per caption; ` +
        `speedup ${r.precisions.map((p) => `${p} ${r.speedup_vs_torch![p]}x raw, ${r.speedup_vs_torch_c16![p]}x at c16`).join(', ')}`,
    );
  }
  lines.push(`peak RSS of the bench process: ${r.peak_rss_mb} MB`);
  return `${lines.join('\n')}\n`;
}

/** Repeated figures (summaries) in the result whose spread is flagged, wherever they sit. */
export function countFlagged(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countFlagged(v), 0);
  if (typeof value !== 'object' || value === null) return 0;
  const o = value as Record<string, unknown>;
  const own = 'median' in o && 'values' in o && o.spread_flag === true ? 1 : 0;
  return own + Object.values(o).reduce((n: number, v) => n + countFlagged(v), 0);
}
