import { startWorker } from '../runtime/worker-thread.ts';
import { phaseOf, type PullEvent, type PullPhase } from './pull-events.ts';
import type { PullWorkerMessage } from './pull-worker.ts';
import type { Precision, PullRequest, PullSettings } from './pull.ts';

export type InstallState = 'running' | 'done' | 'failed';

/** What `Model.install` shows. */
export interface InstallStatus {
  state: InstallState;
  phase: PullPhase | 'failed';
  /** Bytes of the converter's files present in the cache so far, out of `bytesTotal` (0 until they are listed). */
  bytesDone: number;
  bytesTotal: number;
  /** `KIND: message` when it failed. */
  error: string | null;
  /** The commit being installed, once resolved. */
  revision: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** Bytes per second over the download so far (0 before the first bytes). */
  bytesPerSecond: number;
}

/** Runs one pull somewhere and reports its events; `cancel` stops it. */
export type PullRunner = (
  request: PullRequest,
  settings: PullSettings,
  onEvent: (event: PullEvent) => void,
) => { done: Promise<void>; cancel: () => Promise<void> };

/**
 * Installs from the API (the `installModel` mutation, AUTO_INSTALL): the same pull and conversion as the CLI, in a
 * worker thread, one at a time per variant (single flight: a second start while one runs returns the running one).
 * When a pull finishes, `onInstalled` makes the registry take the variant (a rescan), so it serves without restart.
 */
export class InstallJobs {
  private readonly jobs = new Map<string, { status: InstallStatus; cancel: () => Promise<void>; done: Promise<void> }>();

  constructor(
    private readonly settings: PullSettings,
    private readonly onInstalled: (name: string) => Promise<void>,
    private readonly runner: PullRunner = runInWorker,
  ) {}

  /**
   * Starts installing `name` (a registry variant's canonical name) unless it is being installed; returns the status.
   * `retryFailedAfterMs`: a failed install is not started again before this long after it failed (AUTO_INSTALL
   * passes it, so that every request for a gated repository does not start a new pull).
   */
  start(name: string, options: { revision?: string; precision?: Precision; retryFailedAfterMs?: number } = {}): InstallStatus {
    const current = this.jobs.get(name);
    if (current?.status.state === 'running') return current.status;
    const failedAt = current?.status.state === 'failed' ? current.status.finishedAt : null;
    if (failedAt !== null && failedAt !== undefined && options.retryFailedAfterMs !== undefined && Date.now() - failedAt < options.retryFailedAfterMs) {
      return current!.status;
    }
    const status: InstallStatus = { state: 'running', phase: 'resolving', bytesDone: 0, bytesTotal: 0, error: null, revision: null, startedAt: Date.now(), finishedAt: null, bytesPerSecond: 0 };
    let firstBytes: { at: number; bytes: number } | undefined;
    const { done, cancel } = this.runner({ target: name, revision: options.revision, precision: options.precision }, this.settings, (event) => {
      status.phase = phaseOf(event) === 'done' ? 'converting' : phaseOf(event);
      if (event.type === 'resolved') status.revision = event.commit;
      if (event.type === 'files') status.bytesTotal = event.bytesTotal;
      if (event.type === 'download') {
        status.bytesDone = event.bytesDone;
        status.bytesTotal = event.bytesTotal;
        firstBytes ??= { at: Date.now(), bytes: event.bytesDone };
        const seconds = (Date.now() - firstBytes.at) / 1000;
        status.bytesPerSecond = seconds > 0 ? (event.bytesDone - firstBytes.bytes) / seconds : 0;
      }
    });
    const finished = done.then(
      async () => {
        // Done only once the registry took it: a client that sees DONE can use the variant at once.
        await this.onInstalled(name);
        status.state = 'done';
        status.phase = 'done';
        status.finishedAt = Date.now();
      },
      (error: unknown) => {
        status.state = 'failed';
        status.phase = 'failed';
        status.finishedAt = Date.now();
        status.error = error instanceof Error ? error.message : String(error);
      },
    );
    const job = { status, cancel, done: finished.catch(() => {}) };
    this.jobs.set(name, job);
    return status;
  }

  status(name: string): InstallStatus | undefined {
    return this.jobs.get(name)?.status;
  }

  /** A guess at when to try again (for MODEL_NOT_INSTALLED while installing), in milliseconds. */
  retryAfterMs(name: string): number {
    const status = this.status(name);
    if (!status || status.state !== 'running') return 1000;
    if (status.phase !== 'downloading' || status.bytesPerSecond <= 0) return 2000;
    return Math.round(Math.min(60_000, Math.max(1000, (1000 * (status.bytesTotal - status.bytesDone)) / status.bytesPerSecond)));
  }

  /** Stops running pulls (their partial downloads stay and resume next time). */
  async close(): Promise<void> {
    await Promise.all([...this.jobs.values()].filter((job) => job.status.state === 'running').map((job) => job.cancel()));
  }
}

/** The default runner: pull-worker.ts in a worker thread. */
const runInWorker: PullRunner = (request, settings, onEvent) => {
  const worker = startWorker(new URL('./pull-worker.ts', import.meta.url), { request, settings }, `pull ${request.target}`);
  let cancelled = false;
  const done = new Promise<void>((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: PullWorkerMessage) => {
      if (message.type === 'event') onEvent(message.event);
      else if (message.type === 'done') {
        settled = true;
        resolve();
      } else {
        settled = true;
        reject(new Error(`${message.kind}: ${message.message}`));
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(cancelled ? 'the install was stopped (the server is shutting down)' : `the pull worker exited with code ${code}`));
    });
  });
  return {
    done,
    cancel: async () => {
      cancelled = true;
      await worker.terminate();
    },
  };
};
