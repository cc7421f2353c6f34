import type { Worker } from 'node:worker_threads';
import { stopWorker } from '../../runtime/worker-thread.ts';
import type { WorkerMessage } from './protocol.ts';

/**
 * One inference worker thread started before it is needed. A new worker spends most of a second importing its
 * modules (tsx, onnxruntime-node, sharp, the family's runtime) before it can create a single session, and the server
 * starts one at every load, including every reload after an eviction under the memory budget. A spare has already
 * paid that: `take()` hands it over (it then gets its variant with a `load` message), and `restock()` starts the next
 * spare once that load has settled. Not at once: on a 2-core machine the next spare's imports (tsx, V8 compilation)
 * slowed the load they overlapped by about 200 ms (int8 blip-base in the server, 1.08–1.18 s against 0.86–0.95 s).
 * The price: loads back to back (a sequential PRELOAD_MODELS) find the next spare still importing.
 *
 * A spare waits idle (a few tens of MB: a V8 isolate and the loaded native modules) and never keeps the process alive.
 */
export class SpareWorker {
  private spare: Worker | undefined;
  /** Settles when the waiting spare has imported its modules (true) or is gone before that (false). */
  private spareReady: Promise<boolean> = Promise.resolve(false);
  /** The last spare that announced it had imported its modules: it is ready while it is still the waiting one. */
  private imported: Worker | undefined;
  private closed = false;

  constructor(private readonly startSpare: () => Worker) {}

  /** Starts the spare now, so that even the first load finds one (no-op when one is waiting). */
  prime(): void {
    this.replenish();
  }

  /** The thread id of the waiting spare, if any (for logs and tests). */
  waitingThreadId(): number | undefined {
    return this.spare?.threadId;
  }

  /**
   * Whether the waiting spare has finished importing, waiting for it if it has not: false when there is no spare or it
   * died first. For tools and tests that must measure a load from a ready spare (tools/load-time): the server never
   * waits, a load simply takes whatever spare there is.
   */
  ready(): Promise<boolean> {
    return this.spareReady;
  }

  /** Whether a spare has finished importing and waits for a variant, now, without waiting. */
  isReady(): boolean {
    return this.spare !== undefined && this.imported === this.spare;
  }

  /**
   * The waiting spare (its variant still to be sent), or undefined when there is none. The next spare starts when
   * the caller's load has settled (`restock`), not now: its imports would compete with the load for the CPU.
   */
  take(): Worker | undefined {
    const worker = this.spare;
    this.spare = undefined;
    this.spareReady = Promise.resolve(false);
    worker?.ref();
    return worker;
  }

  /** Starts the next spare after a load that took one (or found none) has finished, either way. */
  restock(): void {
    this.replenish();
  }

  /**
   * Stops the waiting spare, if any, and starts no other. It exits through its own message handler, never by
   * `terminate()` in the middle of loading a native module. Says how the spare ended (`none`: there was none).
   */
  async close(forceAfterMs = 10_000): Promise<'none' | 'exited' | 'terminated'> {
    this.closed = true;
    const worker = this.spare;
    this.spare = undefined;
    this.spareReady = Promise.resolve(false);
    if (!worker) return 'none';
    return stopWorker(worker, forceAfterMs);
  }

  private replenish(): void {
    if (this.closed || this.spare) return;
    const worker = this.startSpare();
    worker.unref();
    // A spare that dies before it is taken is simply forgotten; the next take() starts a fresh worker instead.
    const forget = () => {
      if (this.spare === worker) this.spare = undefined;
    };
    worker.once('exit', forget);
    worker.on('error', forget);
    this.spare = worker;
    this.spareReady = new Promise((resolve) => {
      const onMessage = (message: WorkerMessage) => {
        if (message.type !== 'spare-ready') return;
        worker.off('message', onMessage);
        this.imported = worker;
        resolve(true);
      };
      worker.on('message', onMessage);
      worker.once('exit', () => resolve(false));
    });
  }
}
