import { performance } from 'node:perf_hooks';
import type { EventStream } from '../backend/event-stream.ts';
import { abortError } from '../backend/item-signal.ts';
import { deserializeError } from '../backend/items.ts';
import type { BackendItem, ModelBackend, TokenEvent } from '../backend/model-backend.ts';
import type { ModelRegistry } from '../registry/types.ts';
import type { ServedResult } from './types.ts';

/** One item in a variant's DataLoader. */
export interface Job {
  item: BackendItem;
  enqueuedAt: number;
  /** The item's one signal: its deadline and its clients' departure (item-signal.ts). */
  signal: AbortSignal;
  /** Set for streamed items: receives the text so far after each decode step. */
  onToken: ((event: TokenEvent) => void) | undefined;
  /** Handed to the backend: from then on the backend ends it. */
  dispatched: boolean;
}

/** Observers of what the DataLoader dispatches and of the encoder passes it causes (metrics, logs, tests). */
export interface BatchListeners {
  /** Every dispatched DataLoader batch (one group for the backend). */
  onBatch?: (event: { variant: string; size: number; kind: BackendItem['kind'] }) => void;
  /** Every encoder pass of a backend that ran the vision encoder, with how many images it took. */
  onEncoderPass?: (event: { variant: string; images: number }) => void;
}

/**
 * The last encoder pass reported per backend: the items of one pass each carry its number, and the pass is observed
 * once. Keyed by backend because each backend numbers its own passes (a reloaded variant starts again at 1).
 */
export type ObservedPasses = WeakMap<ModelBackend, number>;

/**
 * A DataLoader batch for one variant: leases its backend, submits the batch as one group, and turns each item's events
 * into its served result (or its error). One entry per job, in order; a failed item never fails the others.
 */
export async function runGroup(
  registry: Pick<ModelRegistry, 'lease'>,
  variant: string,
  jobs: readonly Job[],
  listeners: BatchListeners,
  passes: ObservedPasses,
): Promise<Array<ServedResult | Error>> {
  const live = jobs.filter((job) => !job.signal.aborted);
  const results = new Map<Job, ServedResult | Error>();
  if (live.length > 0) {
    let release: (() => void) | undefined;
    try {
      const lease = await registry.lease(variant);
      release = lease.release;
      for (const job of live) job.dispatched = true;
      listeners.onBatch?.({ variant, size: live.length, kind: live[0].item.kind });
      const streams = lease.backend.submitGroup(live.map((job) => ({ item: job.item, controls: { signal: job.signal, stream: job.onToken !== undefined } })));
      const observePass = (pass: number, images: number) => {
        if ((passes.get(lease.backend) ?? 0) >= pass) return;
        passes.set(lease.backend, pass);
        if (images > 0) listeners.onEncoderPass?.({ variant, images });
      };
      const served = await Promise.all(streams.map((stream, i) => serve(stream, live[i], variant, observePass)));
      served.forEach((result, i) => results.set(live[i], result));
    } catch (error) {
      for (const job of live) results.set(job, error instanceof Error ? error : new Error(String(error)));
    } finally {
      release?.();
    }
  }
  return jobs.map((job) => results.get(job) ?? deserializeError(abortError(job.signal, 'queue')));
}

/** Reads one item's events to its result. */
async function serve(stream: EventStream, job: Job, variant: string, observePass: (pass: number, images: number) => void): Promise<ServedResult | Error> {
  for await (const event of stream) {
    switch (event.type) {
      case 'admitted':
        break;
      case 'encoded':
        observePass(event.pass, event.encoderBatch);
        break;
      case 'token':
        job.onToken?.(event);
        break;
      case 'error':
        return deserializeError(event.error);
      case 'done': {
        const { output } = event;
        const totalMs = performance.now() - job.enqueuedAt;
        const { timings } = output;
        // Time before the worker started on it: queued here, in transit, and queued in the worker.
        const queueMs = Math.max(0, totalMs - timings.preprocessMs - timings.encodeMs - timings.decodeMs);
        return {
          text: output.text,
          sequence: output.sequence,
          variant,
          batchSize: output.batchSize,
          encoderBatch: output.encoderBatch,
          cacheHit: output.cacheHit,
          tokens: output.tokens,
          timings: { ...timings, queueMs },
        };
      }
    }
  }
  return new Error('the item ended without a result');
}
