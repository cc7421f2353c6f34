import { setMaxListeners } from 'node:events';
import { cancelledError, deserializeError } from '../backend/items.ts';
import type { ServedResult } from './types.ts';

/** One computation and the clients waiting for it. */
export interface SharedJob {
  promise: Promise<ServedResult>;
  /** Aborted when every waiting client has gone away. */
  controller: AbortController;
  waiting: number;
  gone: number;
}

/** A client's view of a shared computation: its own abort settles its own promise at once (CANCELLED). */
export function subscribe(shared: SharedJob, signal: AbortSignal | undefined): Promise<ServedResult> {
  shared.waiting++;
  if (!signal) return shared.promise;
  return new Promise<ServedResult>((resolve, reject) => {
    const onAbort = () => {
      if (++shared.gone === shared.waiting) shared.controller.abort();
      reject(deserializeError(cancelledError()));
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
