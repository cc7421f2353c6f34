import type { Worker } from 'node:worker_threads';
import { ErrorCode, ServiceError } from '../../errors.ts';
import { ownedBytes, startWorker } from '../../runtime/worker-thread.ts';
import type { VariantManifest } from '../../variant/manifest.ts';
import type { EngineStats } from '../../models/blip/engine/serving-engine.ts';
import type { PipelineOptions } from '../../models/blip/runtime/pipeline.ts';
import { cancelledError, deadlineError, deserializeError, type AnswerItem, type CaptionItem, type ItemKind, type ItemResult } from '../items.ts';
import type { Submission, WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';

const ENTRY = new URL('./worker-entry.ts', import.meta.url);

/** Per-request controls. */
export interface RequestControls {
  /** Aborting it settles the request at once with CANCELLED_CODE and makes its rows leave the worker's batch. */
  signal?: AbortSignal;
  /** Epoch milliseconds: past it the request settles with DEADLINE_EXCEEDED and leaves the worker's batch. */
  deadline?: number;
}

/** One request for `submitAll`. */
export type WorkerSubmission = RequestControls & ({ kind: 'caption'; item: CaptionItem } | { kind: 'answer'; item: AnswerItem });

interface Waiter {
  resolve: (result: ItemResult) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

/**
 * The server-side handle of an inference worker for one variant. Each request is its own message and its own result,
 * so the worker can admit it into its running batch as soon as it arrives, and one request of a batch can be
 * cancelled alone. Image bytes are transferred, not copied. If the worker dies, every request in flight fails with
 * INFERENCE_FAILED and the handle refuses further work (the owner decides whether to start a new one).
 */
export class BlipWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Waiter>();
  private readonly statsWaiters = new Map<number, { resolve: (stats: EngineStats) => void; reject: (e: Error) => void }>();
  private exitError: ServiceError | undefined;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    readonly manifest: VariantManifest,
  ) {
    worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    worker.on('error', (error) => this.fail(new ServiceError(ErrorCode.INFERENCE_FAILED, `inference worker crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new ServiceError(ErrorCode.INFERENCE_FAILED, `inference worker exited (code ${code})`));
    });
  }

  static async start(variantDir: string, options: PipelineOptions): Promise<BlipWorker> {
    const data: WorkerData = { variantDir, options };
    const worker = startWorker(ENTRY, data, `blip:${variantDir}`);
    const manifest = await new Promise<VariantManifest>((resolve, reject) => {
      const onExit = (code: number) => reject(new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `inference worker for ${variantDir} exited during load (code ${code})`));
      worker.once('error', (error) => reject(new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `inference worker for ${variantDir} failed: ${error.message}`, { cause: error })));
      worker.once('exit', onExit);
      worker.once('message', (message: WorkerMessage) => {
        worker.off('exit', onExit);
        if (message.type === 'ready') resolve(message.manifest);
        else if (message.type === 'load-failed') reject(deserializeError(message.error));
        else reject(new Error(`unexpected first message from the inference worker: ${message.type}`));
      });
    });
    return new BlipWorker(worker, manifest);
  }

  /** Captions every item; `controls` apply to each. Rejects with WRONG_TASK on a VQA variant. */
  caption(items: readonly CaptionItem[], controls: RequestControls = {}): Promise<ItemResult[]> {
    return this.callAll('caption', items.map((item) => ({ kind: 'caption', item, ...controls })));
  }

  answer(items: readonly AnswerItem[], controls: RequestControls = {}): Promise<ItemResult[]> {
    return this.callAll('answer', items.map((item) => ({ kind: 'answer', item, ...controls })));
  }

  /**
   * One request. Resolves with its result (a failed request is `{ ok: false }`: bad input, DEADLINE_EXCEEDED,
   * cancellation); rejects only when the worker is gone (INFERENCE_FAILED) or the variant has the other task
   * (WRONG_TASK).
   */
  submit(kind: 'caption', item: CaptionItem, controls?: RequestControls): Promise<ItemResult>;
  submit(kind: 'answer', item: AnswerItem, controls?: RequestControls): Promise<ItemResult>;
  submit(kind: ItemKind, item: CaptionItem | AnswerItem, controls: RequestControls = {}): Promise<ItemResult> {
    return this.submitAll([{ kind, item, ...controls } as WorkerSubmission])[0];
  }

  /**
   * Several requests in one message (an image shared by two of them is transferred once), each with its own
   * controls and its own promise: what a DataLoader batch function needs to cancel one item of its batch.
   */
  submitAll(submissions: readonly WorkerSubmission[]): Array<Promise<ItemResult>> {
    const wrongTask = submissions.find((s) => (s.kind === 'caption') !== (this.manifest.task === 'caption'));
    if (wrongTask) return submissions.map(() => Promise.reject(this.wrongTaskError(wrongTask.kind)));
    if (this.exitError) return submissions.map(() => Promise.reject(this.exitError));
    const posted: Submission[] = [];
    const results = submissions.map((submission) => {
      const { signal, deadline } = submission;
      if (signal?.aborted) return Promise.resolve<ItemResult>({ ok: false, error: cancelledError() });
      const id = this.nextId++;
      posted.push({ id, kind: submission.kind, item: { ...submission.item, image: ownedBytes(submission.item.image) }, deadline } as Submission);
      return new Promise<ItemResult>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => this.settleEarly(id, { ok: false, error: cancelledError() });
        const cleanup = () => {
          signal?.removeEventListener('abort', onAbort);
          if (timer) clearTimeout(timer);
        };
        this.pending.set(id, { resolve, reject, cleanup });
        signal?.addEventListener('abort', onAbort, { once: true });
        if (deadline !== undefined) {
          // The worker checks deadlines between decode steps; this settles on time even during a long encoder pass.
          timer = setTimeout(() => this.settleEarly(id, { ok: false, error: deadlineError(deadline) }), Math.max(0, deadline - Date.now()));
          timer.unref();
        }
      });
    });
    if (posted.length > 0) {
      const message: WorkerRequest = { type: 'submit', submissions: posted };
      this.worker.postMessage(message, [...new Set(posted.map((s) => s.item.image.buffer as ArrayBuffer))]);
    }
    return results;
  }

  /** The worker engine's counters: embedding cache hits, misses, bytes; queued and running requests. */
  stats(): Promise<EngineStats> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.statsWaiters.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'stats', id } satisfies WorkerRequest);
    });
  }

  /** Calls `listener` once when the worker thread exits, whatever the reason (crash, exit, terminate). */
  onExit(listener: (exitCode: number) => void): void {
    this.worker.once('exit', listener);
  }

  /**
   * Stops the worker; requests still in flight fail with INFERENCE_FAILED. The worker is asked to exit between two
   * model calls: `Worker.terminate()` while onnxruntime's synchronous `run` is on the worker's stack can abort the
   * whole process (a Napi::Error thrown into a terminating environment), so it is only the last resort, after
   * `forceAfterMs`.
   */
  async terminate(forceAfterMs = 60_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'stop' } satisfies WorkerRequest);
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), forceAfterMs);
    });
    const outcome = await Promise.race([exited, forced]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.worker.terminate();
  }

  private async callAll(kind: ItemKind, submissions: WorkerSubmission[]): Promise<ItemResult[]> {
    if ((kind === 'caption') !== (this.manifest.task === 'caption')) throw this.wrongTaskError(kind);
    return Promise.all(this.submitAll(submissions));
  }

  private wrongTaskError(kind: ItemKind): ServiceError {
    const { name, task } = this.manifest;
    return new ServiceError(ErrorCode.WRONG_TASK, `${name} is a ${task} model and cannot ${kind === 'answer' ? 'answer questions' : 'caption images'}`);
  }

  /** Settles a request before the worker answers (cancelled, or past its deadline) and tells the worker to drop it. */
  private settleEarly(id: number, result: ItemResult): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    waiter.cleanup();
    waiter.resolve(result);
    if (!this.exitError) this.worker.postMessage({ type: 'cancel', id } satisfies WorkerRequest);
  }

  private onMessage(message: WorkerMessage): void {
    if (message.type === 'stats') {
      this.statsWaiters.get(message.id)?.resolve(message.stats);
      this.statsWaiters.delete(message.id);
      return;
    }
    if (message.type !== 'result') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    waiter.cleanup();
    waiter.resolve(message.result);
  }

  private fail(error: ServiceError): void {
    this.exitError ??= error;
    for (const waiter of this.pending.values()) {
      waiter.cleanup();
      waiter.reject(error);
    }
    this.pending.clear();
    for (const waiter of this.statsWaiters.values()) waiter.reject(error);
    this.statsWaiters.clear();
  }
}
