import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { AnswerItem, CaptionItem } from '../models/blip/runtime/pipeline.ts';
import { deserializeError } from '../models/blip/runtime/pipeline.ts';
import { deadlineError as workerDeadlineError } from '../backend/items.ts';
import type { WorkerSubmission } from '../backend/worker/worker-backend.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ModelRegistry, VariantInfo } from '../registry/types.ts';
import { BatchScheduler } from './batch-scheduler.ts';
import type { AnswerRequest, CaptionRequest, InferenceService, ServedResult } from './types.ts';

type Job = ({ kind: 'caption'; item: CaptionItem } | { kind: 'answer'; item: AnswerItem }) & {
  enqueuedAt: number;
  /** Epoch milliseconds after which the result is no longer wanted. */
  deadline: number | undefined;
  /** The client went away: the worker drops the request between decode steps. */
  signal: AbortSignal | undefined;
};

/** Observes every model pass; used by metrics and by tests that assert which requests formed which batch. */
export type BatchListener = (event: { variant: string; size: number; kind: Job['kind'] }) => void;

export interface InferenceServiceOptions {
  onBatch?: BatchListener;
}

interface VariantQueue {
  loader: DataLoader<Job, ServedResult>;
  /** Requests accepted and not finished (queued or computing). */
  pending: number;
  /** Smoothed duration of a model pass, for the retry hint of OVERLOADED. */
  passMs: number;
  /** Identical requests in flight share one computation. */
  inFlight: Map<string, SharedJob>;
}

/**
 * The serving engine's front: one process-wide DataLoader per variant (not per request, and without its cache), so
 * that concurrent requests from different clients share batched model passes. Each variant has a bounded queue
 * (OVERLOADED beyond it, with a retry hint) and requests may carry a deadline (DEADLINE_EXCEEDED).
 */
export function createInferenceService(registry: ModelRegistry, options: InferenceServiceOptions = {}): InferenceService {
  const queues = new Map<string, VariantQueue>();

  const queueFor = (variant: VariantInfo): VariantQueue => {
    let queue = queues.get(variant.name);
    if (!queue) {
      const scheduler = new BatchScheduler(variant.batching.maxQueueDelayMs);
      const created: VariantQueue = {
        pending: 0,
        passMs: 1000,
        inFlight: new Map(),
        loader: new DataLoader<Job, ServedResult>((jobs) => runBatch(registry, variant.name, jobs, scheduler, created, options.onBatch), {
          cache: false,
          maxBatchSize: variant.batching.maxBatchSize,
          batchScheduleFn: scheduler.schedule,
        }),
      };
      queue = created;
      queues.set(variant.name, queue);
    }
    return queue;
  };

  const submit = (variant: VariantInfo, job: Job, key: string): Promise<ServedResult> => {
    const queue = queueFor(variant);
    const existing = queue.inFlight.get(key);
    if (existing) return subscribe(existing, job.signal);
    if (queue.pending >= variant.batching.maxQueueSize) {
      const retryAfterMs = Math.ceil(Math.max(100, queue.passMs));
      throw new ServiceError(ErrorCode.OVERLOADED, `Model ${variant.name} is busy (${queue.pending} requests in progress); retry after ${retryAfterMs} ms`, {
        details: { retryAfterMs, queueSize: queue.pending },
      });
    }
    queue.pending++;
    // The computation is cancelled only when every client waiting for it has gone away.
    const controller = new AbortController();
    const shared: SharedJob = { promise: undefined as unknown as Promise<ServedResult>, controller, waiting: 0, gone: 0 };
    shared.promise = withDeadline(queue.loader.load({ ...job, signal: controller.signal }), job.deadline).finally(() => {
      queue.pending--;
      queue.inFlight.delete(key);
    });
    queue.inFlight.set(key, shared);
    return subscribe(shared, job.signal);
  };

  return {
    queueDepths(): Record<string, number> {
      return Object.fromEntries([...queues].map(([name, queue]) => [name, queue.pending]));
    },
    async caption(request: CaptionRequest): Promise<ServedResult> {
      const variant = registry.resolve(request.model, 'caption');
      const item: CaptionItem = { image: request.image, prompt: request.prompt, options: request.options };
      const job: Job = { kind: 'caption', item, enqueuedAt: performance.now(), deadline: deadlineOf(request.timeoutMs), signal: request.signal };
      return submit(variant, job, requestKey(variant.name, 'caption', request.image, request.prompt ?? null, request.options, job.deadline));
    },
    async answer(request: AnswerRequest): Promise<ServedResult> {
      const variant = registry.resolve(request.model, 'vqa');
      const item: AnswerItem = { image: request.image, question: request.question, options: request.options };
      const job: Job = { kind: 'answer', item, enqueuedAt: performance.now(), deadline: deadlineOf(request.timeoutMs), signal: request.signal };
      return submit(variant, job, requestKey(variant.name, 'answer', request.image, request.question, request.options, job.deadline));
    },
  };
}

/** One computation and the clients waiting for it. */
interface SharedJob {
  promise: Promise<ServedResult>;
  controller: AbortController;
  waiting: number;
  gone: number;
}

/** A client's view of a shared computation: its own abort settles its own promise at once (CANCELLED). */
function subscribe(shared: SharedJob, signal: AbortSignal | undefined): Promise<ServedResult> {
  shared.waiting++;
  if (!signal) return shared.promise;
  return new Promise<ServedResult>((resolve, reject) => {
    const onAbort = () => {
      if (++shared.gone === shared.waiting) shared.controller.abort();
      reject(new ServiceError(ErrorCode.CANCELLED, 'The request was cancelled'));
    };
    if (signal.aborted) return onAbort();
    // One HTTP request's signal serves every item of a batch mutation (bounded by the batch limit): not a leak.
    setMaxListeners(0, signal);
    signal.addEventListener('abort', onAbort, { once: true });
    shared.promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function deadlineOf(timeoutMs: number | undefined): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an integer from 1 to 600000 for timeoutMs but received ${timeoutMs}`);
  }
  return Date.now() + timeoutMs;
}

/**
 * Requests that would compute the same thing share one computation. Requests with a deadline never share (one
 * client's deadline must not cut short another's result).
 */
function requestKey(variant: string, kind: string, image: Uint8Array, text: string | null, options: unknown, deadline: number | undefined): string {
  if (deadline !== undefined) return `unique:${Math.random()}`;
  const hash = createHash('sha256').update(image).digest('hex');
  return JSON.stringify([variant, kind, hash, text, options ?? {}]);
}

function withDeadline<T>(promise: Promise<T>, deadline: number | undefined): Promise<T> {
  if (deadline === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(deadlineError(deadline)), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The same error the worker reports when a deadline passes there (one message, whichever side notices first). */
function deadlineError(deadline: number, stage?: 'queue'): ServiceError {
  return deserializeError(workerDeadlineError(deadline, stage));
}

async function runBatch(
  registry: ModelRegistry,
  variant: string,
  allJobs: readonly Job[],
  scheduler: BatchScheduler,
  queue: VariantQueue,
  onBatch: BatchListener | undefined,
): Promise<Array<ServedResult | Error>> {
  // Requests whose deadline passed while they queued never reach the model.
  const now = Date.now();
  const expired = allJobs.map((job) => job.deadline !== undefined && job.deadline <= now);
  const jobs = allJobs.filter((_, i) => !expired[i]);
  const results = new Map<Job, ServedResult | Error>();
  if (jobs.length > 0) {
    const end = scheduler.begin();
    const started = performance.now();
    let release: (() => void) | undefined;
    try {
      const lease = await registry.lease(variant);
      release = lease.release;
      const worker = lease.worker;
      const kind = jobs[0].kind;
      onBatch?.({ variant, size: jobs.length, kind });
      // One message for the batch, one promise (and deadline, and abort signal) per item: the worker admits items
      // into its running decode batch and can drop any one of them between steps.
      const settled = await Promise.all(
        worker.submitAll(jobs.map((job) => ({ kind: job.kind, item: job.item, deadline: job.deadline, signal: job.signal }) as WorkerSubmission)),
      );
      const finished = performance.now();
      queue.passMs = 0.8 * queue.passMs + 0.2 * (finished - started);
      settled.forEach((result, i) => {
        if (!result.ok) {
          results.set(jobs[i], deserializeError(result.error));
          return;
        }
        const { timings } = result.value;
        const totalMs = finished - jobs[i].enqueuedAt;
        // Time before the worker started on it: queued here, in transit, and queued in the worker.
        const queueMs = Math.max(0, totalMs - timings.preprocessMs - timings.encodeMs - timings.decodeMs);
        results.set(jobs[i], {
          text: result.value.text,
          sequence: result.value.sequence,
          variant,
          batchSize: result.value.batchSize ?? jobs.length,
          cacheHit: result.value.cacheHit,
          timings: { ...timings, queueMs },
        });
      });
    } catch (error) {
      for (const job of jobs) results.set(job, error instanceof Error ? error : new Error(String(error)));
    } finally {
      release?.();
      end();
    }
  }
  return allJobs.map((job, i) => (expired[i] ? deadlineError(job.deadline as number, 'queue') : (results.get(job) ?? new Error('missing result'))));
}
