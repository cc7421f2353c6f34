/**
 * Caption throughput and latency through real HTTP GraphQL, the cells interleaved: for each repetition, for each
 * concurrency, every (precision × batching) serving process in turn, the order rotating between repetitions, so that
 * a slow stretch of the machine lands on different cells each time. The batched processes' /metrics give the encoder
 * pass sizes formed at concurrency 16; their peak RSS is read after the concurrency-16 cells and after a final
 * concurrency-64 cell.
 */
import { performance } from 'node:perf_hooks';
import type { Precision } from '../../src/variant/manifest.ts';
import { distinctImage, percentile, round } from './common.ts';
import { addHistograms, diffHistogram, EMPTY_HISTOGRAM, readHistogram, type HistogramSnapshot } from './prometheus.ts';
import type { ServingProcess } from './serving-process.ts';
import { rotate, summarize, type Summary } from './stats.ts';

export const CONCURRENCIES = [1, 4, 16] as const;
export const ENCODER_BATCH_METRIC = 'blip_encoder_batch_size';

export interface CaptionCell {
  precision: Precision;
  concurrency: number;
  batching: boolean;
  /** Requests per repetition. */
  requests: number;
  repetitions: number;
  /** Medians over the repetitions (today's keys); the spread is in `stats`. */
  throughput_per_s: number;
  p50_ms: number;
  p95_ms: number;
  stats: { throughput_per_s: Summary; p50_ms: Summary; p95_ms: Summary };
  /** Any of the three figures spread over 25 % across repetitions. */
  spread_flag: boolean;
}

export interface CellsResult {
  cells: CaptionCell[];
  /** Per precision: images per encoder pass in the batched c16 cells, summed over repetitions. */
  encoderBatchesC16: Record<string, HistogramSnapshot>;
  /** Per serving process name: peak RSS after every c16 cell. */
  peakAfterC16Mb: Record<string, number>;
}

/** Picture seeds of the HTTP cells: every request a new picture (identical ones would hit the embedding cache). */
let nextSeed = 0;

export function requestsPerCell(concurrency: number, quick: boolean): number {
  // Full runs keep every client busy for three rounds, so that the batched cells reach a steady state; at least 8
  // requests, because 4 per repetition left the c1 batching gain within its own noise (0.89–0.98 with no real
  // difference: 12 interleaved c1 captions each gave batched 401 / 404 ms against unbatched 405 / 399 ms).
  return quick ? Math.max(2, concurrency) : Math.max(8, 3 * concurrency);
}

/** One cell: `total` captions of new pictures, `concurrency` in flight. Pictures are made before the clock starts. */
export async function runCell(server: ServingProcess, concurrency: number, total: number, tokens: number): Promise<{ throughput: number; p50: number; p95: number }> {
  const pictures: string[] = [];
  for (let i = 0; i < total; i++) pictures.push((await distinctImage(nextSeed++)).toString('base64'));
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) latencies.push(await server.caption(pictures[next++], tokens));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { throughput: total / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

export async function runInterleavedCells(
  servers: ServingProcess[],
  options: { reps: number; quick: boolean; tokens: number; log: (m: string) => void },
): Promise<CellsResult> {
  const raw = new Map<string, Array<{ throughput: number; p50: number; p95: number }>>();
  const key = (s: ServingProcess, c: number) => `${s.name}@${c}`;
  const encoderBatchesC16: Record<string, HistogramSnapshot> = {};
  for (const s of servers) if (s.batching) encoderBatchesC16[s.precision] = EMPTY_HISTOGRAM;
  for (let rep = 0; rep < options.reps; rep++) {
    for (const concurrency of CONCURRENCIES) {
      for (const server of rotate(servers, rep)) {
        const watch = server.batching && concurrency === 16;
        const before = watch ? readHistogram(await server.metrics(), ENCODER_BATCH_METRIC, { variant: server.name }) : EMPTY_HISTOGRAM;
        const r = await runCell(server, concurrency, requestsPerCell(concurrency, options.quick), options.tokens);
        if (watch) {
          const after = readHistogram(await server.metrics(), ENCODER_BATCH_METRIC, { variant: server.name });
          encoderBatchesC16[server.precision] = addHistograms(encoderBatchesC16[server.precision], diffHistogram(before, after));
        }
        raw.set(key(server, concurrency), [...(raw.get(key(server, concurrency)) ?? []), r]);
        options.log(`rep ${rep + 1}/${options.reps} c=${concurrency} ${server.name}: ${r.throughput.toFixed(3)}/s p50 ${r.p50.toFixed(0)} ms p95 ${r.p95.toFixed(0)} ms`);
      }
    }
  }
  const peakAfterC16Mb: Record<string, number> = {};
  for (const s of servers) peakAfterC16Mb[s.name] = round((await s.memory()).peakMb);
  const cells: CaptionCell[] = [];
  for (const concurrency of CONCURRENCIES) {
    for (const s of servers) {
      const runs = raw.get(key(s, concurrency))!;
      const stats = {
        throughput_per_s: summarize(runs.map((r) => r.throughput), 3),
        p50_ms: summarize(runs.map((r) => r.p50)),
        p95_ms: summarize(runs.map((r) => r.p95)),
      };
      cells.push({
        precision: s.precision,
        concurrency,
        batching: s.batching,
        requests: requestsPerCell(concurrency, options.quick),
        repetitions: runs.length,
        throughput_per_s: stats.throughput_per_s.median,
        p50_ms: stats.p50_ms.median,
        p95_ms: stats.p95_ms.median,
        stats,
        spread_flag: stats.throughput_per_s.spread_flag || stats.p50_ms.spread_flag || stats.p95_ms.spread_flag,
      });
    }
  }
  return { cells, encoderBatchesC16, peakAfterC16Mb };
}

/** The memory check of issue 12 item 4: a batched process at concurrency 64 (`requests` captions), its peak RSS after. */
export async function runC64(server: ServingProcess, requests: number, tokens: number, log: (m: string) => void): Promise<{ peakMb: number; throughput: number }> {
  const r = await runCell(server, 64, requests, tokens);
  const { peakMb } = await server.memory();
  log(`c=64 ${server.name}: ${requests} captions, ${r.throughput.toFixed(3)}/s, peak RSS ${peakMb.toFixed(0)} MB`);
  return { peakMb: round(peakMb), throughput: round(r.throughput, 3) };
}

/**
 * Batched over unbatched throughput at each concurrency, per precision: the ratio of each repetition's pair (they
 * ran side by side), summarized.
 */
export function batchingGains(result: CellsResult, servers: ServingProcess[], precision: Precision): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  const batched = servers.find((s) => s.precision === precision && s.batching);
  const unbatched = servers.find((s) => s.precision === precision && !s.batching);
  if (!batched || !unbatched) return out;
  for (const concurrency of CONCURRENCIES) {
    const on = result.cells.find((c) => c.precision === precision && c.batching && c.concurrency === concurrency)!;
    const off = result.cells.find((c) => c.precision === precision && !c.batching && c.concurrency === concurrency)!;
    const pairs = on.stats.throughput_per_s.values.map((v, i) => v / off.stats.throughput_per_s.values[i]);
    out[`c${concurrency}`] = summarize(pairs, 3);
  }
  return out;
}
