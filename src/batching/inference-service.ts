import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import { performance } from 'node:perf_hooks';
import { EventStream } from '../backend/event-stream.ts';
import { abortError, itemSignal, type ItemSignal } from '../backend/item-signal.ts';
import { deserializeError } from '../backend/items.ts';
import type { BackendItem, TokenEvent } from '../backend/model-backend.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ModelRegistry, VariantInfo } from '../registry/types.ts';
import { BatchScheduler } from './batch-scheduler.ts';
import { runGroup, type BatchListeners, type Job, type ObservedPasses } from './run-group.ts';
import { subscribe, type SharedJob } from './shared-job.ts';
import type { InferenceCall, InferenceService, ServedEvent, ServedResult } from './types.ts';

export type { BatchListeners } from './run-group.ts';

interface VariantQueue {
  loader: DataLoader<Job, ServedResult>;
  /** Items accepted and not finished (queued or computing). */
  pending: number;
  /** Smoothed duration of a group, for the retry hint of OVERLOADED. */
  passMs: number;
  /** Identical items in flight share one computation. */
  inFlight: Map<string, SharedJob>;
}

/**
 * The serving engine's front: one process-wide DataLoader per variant (not per request, and without its cache), so
 * that concurrent items from different clients are dispatched together; a dispatched batch is one group for the
 * variant's backend, which runs it as one encoder pass and then decodes its rows with whatever else runs. Each variant
 * has a bounded queue (OVERLOADED beyond it, with a retry hint). An item's deadline and its client's disconnection
 * become one signal here (item-signal.ts), which every layer below only listens to.
 */
export function createInferenceService(registry: Pick<ModelRegistry, 'lease'>, listeners: BatchListeners = {}): InferenceService {
  const queues = new Map<string, VariantQueue>();
  const passes: ObservedPasses = new WeakMap();

  const queueFor = (variant: VariantInfo): VariantQueue => {
    let queue = queues.get(variant.name);
    if (!queue) {
      const scheduler = new BatchScheduler(variant.batching.maxQueueDelayMs);
      const created: VariantQueue = {
        pending: 0,
        passMs: 1000,
        inFlight: new Map(),
        loader: new DataLoader<Job, ServedResult>(
          async (jobs) => {
            const end = scheduler.begin();
            const started = performance.now();
            try {
              return await runGroup(registry, variant.name, jobs, listeners, passes);
            } finally {
              created.passMs = 0.8 * created.passMs + 0.2 * (performance.now() - started);
              end();
            }
          },
          { cache: false, maxBatchSize: variant.batching.maxBatchSize, batchScheduleFn: scheduler.schedule },
        ),
      };
      queue = created;
      queues.set(variant.name, queue);
    }
    return queue;
  };

  const submit = async (call: InferenceCall, onToken?: (event: TokenEvent) => void): Promise<ServedResult> => {
    const { variant } = call;
    const deadline = deadlineOf(call.timeoutMs);
    const queue = queueFor(variant);
    const key = requestKey(call, deadline !== undefined || onToken !== undefined);
    const existing = queue.inFlight.get(key);
    if (existing) return subscribe(existing, call.signal);
    if (queue.pending >= variant.batching.maxQueueSize) {
      const retryAfterMs = Math.ceil(Math.max(100, queue.passMs));
      throw new ServiceError(ErrorCode.OVERLOADED, `Model ${variant.name} is busy (${queue.pending} requests in progress); retry after ${retryAfterMs} ms`, {
        details: { retryAfterMs, queueSize: queue.pending },
      });
    }
    queue.pending++;
    // The computation is cancelled only when every client waiting for it has gone away.
    const controller = new AbortController();
    const signal: ItemSignal = itemSignal({ deadline, client: controller.signal });
    const item = { kind: call.kind, item: call.kind === 'caption' ? { image: call.image, prompt: call.text, options: call.options } : { image: call.image, question: call.text as string, options: call.options } } as BackendItem;
    const job: Job = { item, enqueuedAt: performance.now(), signal: signal.signal, onToken, dispatched: false };
    const shared: SharedJob = { promise: undefined as unknown as Promise<ServedResult>, controller, waiting: 0, gone: 0 };
    shared.promise = Promise.race([queue.loader.load(job), abortedBeforeDispatch(job)]).finally(() => {
      queue.pending--;
      queue.inFlight.delete(key);
      signal.dispose();
    });
    queue.inFlight.set(key, shared);
    return subscribe(shared, call.signal);
  };

  return {
    queueDepths(): Record<string, number> {
      return Object.fromEntries([...queues].map(([name, queue]) => [name, queue.pending]));
    },
    run: (call) => submit(call),
    stream(call: InferenceCall): AsyncIterable<ServedEvent> {
      const client = new AbortController();
      const onClientAbort = () => client.abort(call.signal?.reason);
      if (call.signal?.aborted) onClientAbort();
      else call.signal?.addEventListener('abort', onClientAbort, { once: true });
      const events = new EventStream<ServedEvent>();
      events.onAbandon(() => client.abort());
      submit({ ...call, signal: client.signal }, (event) => events.push(event)).then(
        (result) => events.push({ type: 'done', result }),
        (error: Error) => events.push({ type: 'error', error }),
      ).finally(() => call.signal?.removeEventListener('abort', onClientAbort));
      return events;
    },
  };
}

/** Settles an item whose signal aborts while it still waits for dispatch (queued, or waiting for its model to load). */
function abortedBeforeDispatch(job: Job): Promise<never> {
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => {
      if (!job.dispatched) reject(deserializeError(abortError(job.signal, 'queue')));
    };
    if (job.signal.aborted) onAbort();
    else job.signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  return aborted;
}

function deadlineOf(timeoutMs: number | undefined): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an integer from 1 to 600000 for timeoutMs but received ${timeoutMs}`);
  }
  return Date.now() + timeoutMs;
}

/**
 * Items that would compute the same thing share one computation. Items with a deadline never share (one client's
 * deadline must not cut short another's result), nor do streamed ones (each stream has its own token events).
 */
function requestKey(call: InferenceCall, unique: boolean): string {
  if (unique) return `unique:${Math.random()}`;
  const hash = createHash('sha256').update(call.image).digest('hex');
  return JSON.stringify([call.variant.name, call.kind, hash, call.text ?? null, call.options ?? {}]);
}
