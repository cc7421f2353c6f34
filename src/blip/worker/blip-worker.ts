import type { Worker } from 'node:worker_threads';
import { ErrorCode, ServiceError } from '../../errors.ts';
import { ownedBytes, startWorker } from '../../runtime/worker-thread.ts';
import type { VariantManifest } from '../../variant/manifest.ts';
import { deserializeError, type AnswerItem, type CaptionItem, type ItemResult, type PipelineOptions } from '../pipeline.ts';
import type { WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';

const ENTRY = new URL('./inference-worker.ts', import.meta.url);

/**
 * The server-side handle of an inference worker for one variant. Image bytes are transferred, not copied. If the
 * worker dies, every request in flight fails with INFERENCE_FAILED and the handle refuses further work (the owner
 * decides whether to start a new one).
 */
export class BlipWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ItemResult[]) => void; reject: (e: Error) => void }>();
  private exitError: ServiceError | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly manifest: VariantManifest,
  ) {
    worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    worker.on('error', (error) => this.fail(new ServiceError(ErrorCode.INFERENCE_FAILED, `inference worker crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.fail(new ServiceError(ErrorCode.INFERENCE_FAILED, `inference worker exited (code ${code})`)));
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

  caption(items: CaptionItem[]): Promise<ItemResult[]> {
    return this.call({ id: this.nextId++, method: 'caption', items: items.map((item) => ({ ...item, image: ownedBytes(item.image) })) });
  }

  answer(items: AnswerItem[]): Promise<ItemResult[]> {
    return this.call({ id: this.nextId++, method: 'answer', items: items.map((item) => ({ ...item, image: ownedBytes(item.image) })) });
  }

  /** Calls `listener` once when the worker thread exits, whatever the reason (crash, exit, terminate). */
  onExit(listener: (exitCode: number) => void): void {
    this.worker.once('exit', listener);
  }

  /** Stops the worker; requests still in flight fail. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private call(request: WorkerRequest): Promise<ItemResult[]> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      // The same image may back several items: each buffer is transferred once.
      this.worker.postMessage(request, [...new Set(request.items.map((item) => item.image.buffer as ArrayBuffer))]);
    });
  }

  private onMessage(message: WorkerMessage): void {
    if (message.type !== 'result' && message.type !== 'failed') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.type === 'result') waiter.resolve(message.results);
    else waiter.reject(deserializeError(message.error));
  }

  private fail(error: ServiceError): void {
    this.exitError ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
