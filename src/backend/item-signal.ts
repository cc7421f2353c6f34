import { ErrorCode, ServiceError } from '../errors.ts';
import { cancelledError, deadlineError, deserializeError, serializeError, type RequestStage, type SerializedError } from './items.ts';

/**
 * The one deadline mechanism: an item's deadline and its client's disconnection become a single AbortSignal, with one
 * timer, created once when the item enters the server. Everything downstream (the queue, the backend, the worker's
 * engine) only listens to that signal; its `reason` says why (DEADLINE_EXCEEDED or CANCELLED).
 */
export interface ItemSignal {
  signal: AbortSignal;
  /** Clears the timer and the listener on the client's signal; call it when the item is settled. */
  dispose(): void;
}

export function itemSignal(options: { deadline?: number; client?: AbortSignal }): ItemSignal {
  const { deadline, client } = options;
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(deserializeError(cancelledError()));
  let timer: NodeJS.Timeout | undefined;
  if (client?.aborted) onClientAbort();
  else client?.addEventListener('abort', onClientAbort, { once: true });
  if (deadline !== undefined && !controller.signal.aborted) {
    const expire = () => controller.abort(deserializeError(deadlineError(deadline)));
    const delay = deadline - Date.now();
    if (delay <= 0) expire();
    else timer = setTimeout(expire, delay);
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      client?.removeEventListener('abort', onClientAbort);
    },
  };
}

/**
 * The error an item ends with when its signal aborts, labelled with where it was. A reason that is not one of ours
 * (someone aborted with no reason) counts as a cancellation.
 */
export function abortError(signal: AbortSignal, stage: RequestStage): SerializedError {
  const reason: unknown = signal.reason;
  const error = isSerializedError(reason) ? reason : reason instanceof ServiceError ? serializeError(reason) : cancelledError();
  if (error.code !== ErrorCode.CANCELLED && error.code !== ErrorCode.DEADLINE_EXCEEDED) return error;
  return { ...error, details: { ...error.details, stage } };
}

function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === 'object' && value !== null && !(value instanceof Error) && typeof (value as SerializedError).code === 'string';
}
