import type { Worker } from 'node:worker_threads';
import { ErrorCode, ServiceError } from '../../errors.ts';
import type { RuntimeOptions } from '../../models/family.ts';
import { ownedBytes, startWorker, stopWorker } from '../../runtime/worker-thread.ts';
import type { VariantManifest } from '../../variant/manifest.ts';
import { EventStream, resultOf, streamOf } from '../event-stream.ts';
import { abortError, itemSignal, type ItemSignal } from '../item-signal.ts';
import { cancelledError, deserializeError, type AnswerItem, type CaptionItem, type ItemResult, type RequestStage, type SerializedError } from '../items.ts';
import type { BackendItem, BackendStats, BackendVariant, ModelBackend, SubmitControls } from '../model-backend.ts';
import type { Submission, WorkerAssignment, WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';
import { SpareWorker } from './spare-worker.ts';

const ENTRY = new URL('./worker-entry.ts', import.meta.url);

/** Controls of `submit`/`submitGroup`, plus a deadline the backend turns into the item's signal (item-signal.ts). */
export interface WorkerControls extends SubmitControls {
  /** Epoch milliseconds; for callers that did not build the item's signal themselves. */
  deadline?: number;
}

interface Pending {
  stream: EventStream;
  stage: RequestStage;
  /** The deadline signal this backend built for the item, if any. */
  owned: ItemSignal | undefined;
  cleanup: () => void;
}

/**
 * The worker-thread ONNX backend: one variant's family runtime in its own thread, items in, events out. Each group of
 * items is one message (so a DataLoader batch is one encoder pass), each item its own event stream, so one item of a
 * group can leave alone. Image bytes are transferred, not copied. When an item's signal aborts, its stream ends at
 * once (even while the worker is inside a long encoder pass) and the worker drops its rows at the next step. If the
 * worker dies, every item in flight ends with INFERENCE_FAILED and the backend refuses further work.
 */
export class WorkerBackend implements ModelBackend {
  readonly variant: BackendVariant;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly statsWaiters = new Map<number, { resolve: (stats: BackendStats) => void; reject: (e: Error) => void }>();
  private exitError: SerializedError | undefined;
  private exited = false;
  private readonly failureListeners: Array<(error: SerializedError) => void> = [];

  private constructor(
    private readonly worker: Worker,
    readonly manifest: VariantManifest,
  ) {
    this.variant = { name: manifest.name, family: manifest.family, task: manifest.task, precision: manifest.precision };
    worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    worker.on('error', (error) => this.fail({ code: ErrorCode.INFERENCE_FAILED, message: `inference worker crashed: ${error.message}` }));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail({ code: ErrorCode.INFERENCE_FAILED, message: `inference worker exited (code ${code})` });
    });
  }

  /**
   * `onWarning` receives what the load reported without failing (default: a process warning). With `spares`, the
   * variant goes to the waiting spare worker when there is one (see spare-worker.ts) instead of a new thread.
   */
  static async start(variantDir: string, options: RuntimeOptions, onWarning: (message: string) => void = warnProcess, spares?: SpareWorker): Promise<WorkerBackend> {
    const data: WorkerData = { variantDir, options };
    const spare = spares?.take();
    if (spare) spare.postMessage({ type: 'load', data } satisfies WorkerAssignment);
    const worker = spare ?? startWorker(ENTRY, data, `inference:${variantDir}`);
    const loaded = new Promise<VariantManifest>((resolve, reject) => {
      const onExit = (code: number) => reject(new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `inference worker for ${variantDir} exited during load (code ${code})`));
      worker.once('error', (error) => reject(new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `inference worker for ${variantDir} failed: ${error.message}`, { cause: error })));
      worker.once('exit', onExit);
      const onMessage = (message: WorkerMessage) => {
        // A spare taken before it finished importing still announces that it did: not the load's answer.
        if (message.type === 'spare-ready') return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (message.type === 'ready') {
          message.warnings.forEach((warning) => onWarning(warning));
          resolve(message.manifest);
        }
        else if (message.type === 'load-failed') reject(deserializeError(message.error));
        else reject(new Error(`unexpected first message from the inference worker: ${message.type}`));
      };
      worker.on('message', onMessage);
    });
    const manifest = await loaded.finally(() => spares?.restock());
    return new WorkerBackend(worker, manifest);
  }

  /** The worker thread's id (which thread serves the variant: logs, tests). */
  get threadId(): number {
    return this.worker.threadId;
  }

  /** A spare-worker keeper for `start`: its spares run this backend's worker entry, waiting for their variant. */
  static spareWorkers(): SpareWorker {
    return new SpareWorker(() => startWorker(ENTRY, null, 'inference:spare'));
  }

  submit(item: BackendItem, controls?: WorkerControls): EventStream {
    return this.submitGroup([{ item, controls }])[0];
  }

  submitGroup(items: ReadonlyArray<{ item: BackendItem; controls?: WorkerControls }>): EventStream[] {
    if (this.exitError) return items.map(() => streamOf({ type: 'error', error: this.exitError as SerializedError }));
    const posted: Submission[] = [];
    const streams = items.map(({ item, controls = {} }) => {
      const owned = controls.deadline === undefined ? undefined : itemSignal({ deadline: controls.deadline, client: controls.signal });
      const signal = owned?.signal ?? controls.signal;
      if (signal?.aborted) {
        owned?.dispose();
        return streamOf({ type: 'error', error: abortError(signal, 'queue') });
      }
      const id = this.nextId++;
      const stream = new EventStream();
      const onAbort = () => this.leave(id, abortError(signal as AbortSignal, this.pending.get(id)?.stage ?? 'queue'));
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.onAbandon(() => this.leave(id, cancelledError(this.pending.get(id)?.stage)));
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        owned?.dispose();
      };
      this.pending.set(id, { stream, stage: 'queue', owned, cleanup });
      posted.push({ id, kind: item.kind, item: { ...item.item, image: ownedBytes(item.item.image) }, stream: controls.stream ?? false } as Submission);
      return stream;
    });
    if (posted.length > 0) {
      const message: WorkerRequest = { type: 'submit', submissions: posted };
      this.worker.postMessage(message, [...new Set(posted.map((s) => s.item.image.buffer as ArrayBuffer))]);
    }
    return streams;
  }

  /** In-process convenience (tools, tests, the CLI): captions every item together; failures as values. */
  caption(items: readonly CaptionItem[], controls: WorkerControls = {}): Promise<ItemResult[]> {
    return Promise.all(this.submitGroup(items.map((item) => ({ item: { kind: 'caption', item }, controls }))).map(resultOf));
  }

  answer(items: readonly AnswerItem[], controls: WorkerControls = {}): Promise<ItemResult[]> {
    return Promise.all(this.submitGroup(items.map((item) => ({ item: { kind: 'answer', item }, controls }))).map(resultOf));
  }

  /** The runtime's counters: embedding cache hits, misses, bytes; queued and running items. */
  stats(): Promise<BackendStats> {
    if (this.exitError) return Promise.reject(deserializeError(this.exitError));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.statsWaiters.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'stats', id } satisfies WorkerRequest);
    });
  }

  onFailure(listener: (error: SerializedError) => void): void {
    this.failureListeners.push(listener);
  }

  /**
   * Stops the worker; items still in flight end with INFERENCE_FAILED. The worker is asked to exit between two model
   * calls: `Worker.terminate()` while onnxruntime's synchronous `run` is on the worker's stack can abort the whole
   * process (a Napi::Error thrown into a terminating environment), so it is only the last resort, after `forceAfterMs`.
   */
  async close(forceAfterMs = 60_000): Promise<void> {
    if (this.exited) return;
    await stopWorker(this.worker, forceAfterMs);
  }

  /** Ends an item before the worker does (cancelled, or past its deadline) and tells the worker to drop it. */
  private leave(id: number, error: SerializedError): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    pending.cleanup();
    pending.stream.push({ type: 'error', error });
    if (!this.exitError) this.worker.postMessage({ type: 'cancel', id, reason: error } satisfies WorkerRequest);
  }

  private onMessage(message: WorkerMessage): void {
    if (message.type === 'stats') {
      this.statsWaiters.get(message.id)?.resolve(message.stats);
      this.statsWaiters.delete(message.id);
      return;
    }
    if (message.type !== 'events') return;
    for (const { id, event } of message.events) {
      const pending = this.pending.get(id);
      if (!pending) continue;
      if (event.type === 'admitted') pending.stage = 'encode';
      else if (event.type === 'encoded') pending.stage = 'decode';
      else if (event.type === 'done' || event.type === 'error') {
        this.pending.delete(id);
        pending.cleanup();
      }
      pending.stream.push(event);
    }
  }

  private fail(error: SerializedError): void {
    const first = this.exitError === undefined;
    this.exitError ??= error;
    for (const pending of this.pending.values()) {
      pending.cleanup();
      pending.stream.push({ type: 'error', error });
    }
    this.pending.clear();
    for (const waiter of this.statsWaiters.values()) waiter.reject(deserializeError(error));
    this.statsWaiters.clear();
    if (first) for (const listener of this.failureListeners) listener(error);
  }
}

function warnProcess(message: string): void {
  process.emitWarning(message, 'ModelLoadWarning');
}
