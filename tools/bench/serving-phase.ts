/**
 * The serving half of the bench: one server process per (precision, batching), the interleaved HTTP cells, the
 * concurrency-64 cell and the load timings of each batched process. All precisions' processes run side by side so
 * that fp32 and int8 cells interleave; with `phased` (blip-large: four processes of it would not fit in memory
 * together) one precision's pair runs at a time, and only batching on/off interleave.
 */
import type { Precision } from '../../src/variant/manifest.ts';
import { distinctImage } from './common.ts';
import { batchingGains, runC64, runInterleavedCells, type CaptionCell } from './http-cells.ts';
import { measureColdLoad, measureLoads, timeOneLoad, type LoadTimes } from './load-timing.ts';
import { EMPTY_HISTOGRAM, type HistogramSnapshot } from './prometheus.ts';
import { startServingProcess, type ServingProcess } from './serving-process.ts';
import type { Summary } from './stats.ts';

export interface ServingOptions {
  precisions: Precision[];
  dirs: Record<string, string>;
  description: string;
  reps: number;
  quick: boolean;
  tokens: number;
  c64Requests: number;
  loads: number;
  coldDisk: boolean;
  phased: boolean;
  log: (m: string) => void;
}

export interface ServingResults {
  cells: CaptionCell[];
  gains: Record<string, Record<string, Summary>>;
  encoderBatchesC16: Record<string, HistogramSnapshot>;
  peakAfterC16Mb: Record<string, number>;
  peakAfterC64Mb: Record<string, number>;
  unbatchedPeakMb: Record<string, number>;
  loads: Record<string, LoadTimes>;
  coldLoads: Record<string, { metricMs: number; clientMs: number }> | null;
  /** What ran side by side: 'precision×batching', or 'batching' when phased. */
  interleaved: string;
}

/** Warm-up pictures, apart from every other seed of the bench. */
let warmUpSeed = 2_000_000;

export async function runServing(o: ServingOptions): Promise<ServingResults> {
  const out: ServingResults = {
    cells: [],
    gains: {},
    encoderBatchesC16: {},
    peakAfterC16Mb: {},
    peakAfterC64Mb: {},
    unbatchedPeakMb: {},
    loads: {},
    coldLoads: o.coldDisk ? {} : null,
    interleaved: o.phased && o.precisions.length > 1 ? 'batching' : 'precision×batching',
  };
  const phases = o.phased ? o.precisions.map((p) => [p]) : [o.precisions];
  for (const phase of phases) {
    const servers: ServingProcess[] = [];
    try {
      for (const p of phase) {
        for (const batching of [true, false]) {
          const s = await startServingProcess(o.dirs[p], p, batching, o.description);
          servers.push(s);
          const first = await timeOneLoad(s); // the process's first load (not in load_ms: the files may be cold)
          // One untimed caption: the sessions' first runs allocate and plan, which no later request pays.
          await s.caption((await distinctImage(warmUpSeed++)).toString('base64'), o.tokens);
          o.log(`started ${s.name} (pid ${s.pid}); first load ${first.metricMs.toFixed(0)} ms, warm-up caption done`);
        }
      }
      const cells = await runInterleavedCells(servers, { reps: o.reps, quick: o.quick, tokens: o.tokens, log: o.log });
      out.cells.push(...cells.cells);
      for (const s of servers) {
        if (s.batching) {
          out.peakAfterC16Mb[s.precision] = cells.peakAfterC16Mb[s.name];
          out.encoderBatchesC16[s.precision] = cells.encoderBatchesC16[s.precision] ?? EMPTY_HISTOGRAM;
        } else {
          out.unbatchedPeakMb[s.precision] = cells.peakAfterC16Mb[s.name];
        }
      }
      for (const p of phase) out.gains[p] = batchingGains(cells, servers, p);
      const batched = servers.filter((s) => s.batching);
      for (const s of batched) out.peakAfterC64Mb[s.precision] = (await runC64(s, o.c64Requests, o.tokens, o.log)).peakMb;
      for (const s of batched) out.loads[s.precision] = await measureLoads(s, o.loads, o.log);
      if (out.coldLoads) for (const s of batched) out.coldLoads[s.precision] = await measureColdLoad(s, o.log);
    } finally {
      for (const s of servers) await s.stop();
    }
  }
  // Cells in the order of the table: by concurrency, then precision, batched first.
  out.cells.sort((a, b) => a.concurrency - b.concurrency || o.precisions.indexOf(a.precision) - o.precisions.indexOf(b.precision) || Number(b.batching) - Number(a.batching));
  return out;
}
