import { parentPort, workerData } from 'node:worker_threads';
import { HubError } from './hub-error.ts';
import { pull, type PullRequest, type PullSettings } from './pull.ts';

/**
 * A pull in a worker thread (see install-jobs.ts): downloading hashes gigabytes and converting builds graphs on the
 * CPU, which must not stall the server's event loop. Posts every event, then `done` or `failed`.
 */
export type PullWorkerMessage =
  | { type: 'event'; event: import('./pull-events.ts').PullEvent }
  | { type: 'done'; result: import('./pull.ts').PullResult }
  | { type: 'failed'; kind: string; message: string; resumable: boolean };

const { request, settings } = (workerData as { data: { request: PullRequest; settings: PullSettings } }).data;
const post = (message: PullWorkerMessage) => parentPort!.postMessage(message);

try {
  const result = await pull(request, settings, (event) => post({ type: 'event', event }));
  post({ type: 'done', result });
} catch (error) {
  post(
    error instanceof HubError
      ? { type: 'failed', kind: error.kind, message: error.message, resumable: error.resumable }
      : { type: 'failed', kind: 'INTERNAL', message: error instanceof Error ? error.message : String(error), resumable: false },
  );
}
