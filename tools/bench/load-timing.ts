/**
 * Loading cost in the serving process (issue 12 item 5): the admin mutations unload and load the variant, and the
 * server's own `blip_model_load_seconds` histogram (sum/count difference) gives the time it measured, next to the time
 * the client waited for `loadModel`. The files are in the page cache (the variant was loaded before). With `cold`,
 * one more load each after dropping the page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`, root only).
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { diffHistogram, readHistogram, readSample } from './prometheus.ts';
import type { ServingProcess } from './serving-process.ts';
import { summarize, type Summary } from './stats.ts';

export const LOAD_METRIC = 'blip_model_load_seconds';
const SPARE_READY_METRIC = 'blip_spare_worker_ready';
/** A spare imports in about a second here; far longer means it is not coming (it died, or SPARE_WORKER is off). */
const SPARE_WAIT_MS = 60_000;

const LOAD = 'mutation($name: String!) { loadModel(name: $name) { state } }';
const UNLOAD = 'mutation($name: String!) { unloadModel(name: $name) { state } }';

export interface LoadTimes {
  /** Milliseconds by the server's histogram, one per load. */
  metric: Summary;
  /** Milliseconds the client waited for loadModel. */
  client: Summary;
}

/**
 * One unload + load; the server's measured milliseconds and the client's. The load starts once the server's spare
 * worker has finished importing (its /metrics gauge), as a load finds it unless another load has just ended: loads
 * back to back would time the spare's imports, not the variant's.
 */
export async function timeOneLoad(server: ServingProcess): Promise<{ metricMs: number; clientMs: number }> {
  await unload(server);
  await spareReady(server);
  const before = readHistogram(await server.metrics(), LOAD_METRIC, { variant: server.name });
  const t0 = performance.now();
  await server.graphql(LOAD, { name: server.name });
  const clientMs = performance.now() - t0;
  const d = diffHistogram(before, readHistogram(await server.metrics(), LOAD_METRIC, { variant: server.name }));
  if (d.count !== 1) throw new Error(`${server.name}: expected one load in ${LOAD_METRIC} but the server recorded ${d.count}`);
  return { metricMs: d.sum * 1000, clientMs };
}

/** Waits until the server reports a spare worker ready to take the next load. */
async function spareReady(server: ServingProcess): Promise<void> {
  const deadline = performance.now() + SPARE_WAIT_MS;
  for (;;) {
    const ready = readSample(await server.metrics(), SPARE_READY_METRIC);
    if (ready === undefined) throw new Error(`${server.name}: /metrics has no ${SPARE_READY_METRIC} (spare workers off?)`);
    if (ready === 1) return;
    if (performance.now() > deadline) throw new Error(`${server.name}: no spare worker ready after ${SPARE_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Unloads the variant. The server refuses (MODEL_IN_USE) while a model pass still holds the worker, which can outlast
 * the last response by a moment: retried for up to 30 s.
 */
async function unload(server: ServingProcess): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await server.graphql(UNLOAD, { name: server.name });
      return;
    } catch (error) {
      if (!String((error as Error).message).includes('MODEL_IN_USE') || attempt >= 30) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

export async function measureLoads(server: ServingProcess, loads: number, log: (m: string) => void): Promise<LoadTimes> {
  const metric: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < loads; i++) {
    const t = await timeOneLoad(server);
    metric.push(t.metricMs);
    client.push(t.clientMs);
  }
  const result = { metric: summarize(metric), client: summarize(client) };
  log(`load ${server.name} (page cache warm): ${result.metric.median} ms by ${LOAD_METRIC} [${result.metric.min}–${result.metric.max}], client ${result.client.median} ms`);
  return result;
}

/** Why the page cache cannot be dropped here, or undefined when it can. */
export function dropCachesUnavailable(): string | undefined {
  try {
    execFileSync('sh', ['-c', 'test -w /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return '/proc/sys/vm/drop_caches is not writable (not root, or a read-only /proc in this container)';
  }
}

/** One load after dropping the page cache: the variant's files come from disk. */
export async function measureColdLoad(server: ServingProcess, log: (m: string) => void): Promise<{ metricMs: number; clientMs: number }> {
  await unload(server);
  execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'inherit' });
  // The unload already happened: timeOneLoad's own unload of an unloaded variant is a no-op.
  const t = await timeOneLoad(server);
  log(`load ${server.name} (page cache dropped): ${t.metricMs.toFixed(0)} ms by ${LOAD_METRIC}, client ${t.clientMs.toFixed(0)} ms`);
  return t;
}
