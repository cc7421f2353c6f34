import { Worker } from 'node:worker_threads';
import type { BlipWorker } from '../blip/worker/blip-worker.ts';

/**
 * Calls `listener` once when the thread behind `blipWorker` exits (crash, `process.exit`, or `terminate()`).
 *
 * Why this reaches into a private field: `BlipWorker` fails its own requests when its thread dies but does not tell
 * its owner, and the registry must forget a dead worker so that the next request starts a fresh one. Until
 * `BlipWorker` offers a public exit hook, this is the one place that knows its field name; it throws (and the
 * registry tests fail) rather than silently never firing if that field goes away.
 */
export function onWorkerExit(blipWorker: BlipWorker, listener: (exitCode: number) => void): void {
  const thread = (blipWorker as unknown as { worker?: unknown }).worker;
  if (!(thread instanceof Worker)) {
    throw new Error('BlipWorker no longer holds its thread in `worker`: update src/registry/worker-exit.ts');
  }
  thread.once('exit', listener);
}
