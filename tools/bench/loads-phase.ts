/**
 * `npm run bench -- --loads-only [--large]`: the loading time in the server alone (issue 12 item 5), without the rest
 * of the bench. Per precision, one batched serving process started like the full bench's; its first load is not
 * timed (the files may be cold), then `loads` unload/load cycles, each from a ready spare worker (load-timing.ts), and
 * with `coldDisk` one more after dropping the page cache.
 */
import { measureColdLoad, measureLoads, timeOneLoad, type LoadTimes } from './load-timing.ts';
import { startServingProcess } from './serving-process.ts';
import type { Precision } from '../../src/variant/manifest.ts';

export interface LoadsOnly {
  loads: Record<string, LoadTimes>;
  coldLoads: Record<string, { metricMs: number; clientMs: number }> | null;
}

export async function runLoadsPhase(o: {
  precisions: Precision[];
  dirs: Record<string, string>;
  description: string;
  loads: number;
  coldDisk: boolean;
  log: (m: string) => void;
}): Promise<LoadsOnly> {
  const out: LoadsOnly = { loads: {}, coldLoads: o.coldDisk ? {} : null };
  // One process at a time: blip-large's fp32 and int8 together would hold 3 GB for nothing.
  for (const p of o.precisions) {
    const server = await startServingProcess(o.dirs[p], p, true, o.description);
    try {
      const first = await timeOneLoad(server);
      o.log(`started ${server.name} (pid ${server.pid}); first load ${first.metricMs.toFixed(0)} ms (not counted)`);
      out.loads[p] = await measureLoads(server, o.loads, o.log);
      if (out.coldLoads) out.coldLoads[p] = await measureColdLoad(server, o.log);
    } finally {
      await server.stop();
    }
  }
  return out;
}

export function formatLoads(model: string, r: LoadsOnly, loadAverage: { start: number[]; end: number[] }): string {
  const lines = [`loading ${model} in the server (blip_model_load_seconds, page cache warm, a ready spare worker):`];
  for (const [p, t] of Object.entries(r.loads)) {
    lines.push(`  ${p}: median ${t.metric.median} ms [${t.metric.min}–${t.metric.max}] over ${t.metric.values.length} loads; client ${t.client.median} ms`);
    const cold = r.coldLoads?.[p];
    if (cold) lines.push(`  ${p}, page cache dropped: ${cold.metricMs.toFixed(0)} ms (client ${cold.clientMs.toFixed(0)} ms)`);
  }
  lines.push(`load average ${loadAverage.start.map((x) => x.toFixed(2)).join(' ')} → ${loadAverage.end.map((x) => x.toFixed(2)).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
