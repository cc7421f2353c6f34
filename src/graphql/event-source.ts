import { ErrorCode, ServiceError } from '../errors.ts';
import type { StreamEvent } from '../gateway/stream-events.ts';

/** What a subscription's source stream carries: an event, or the error that ended the stream. */
export type StreamPayload = { event: StreamEvent } | { error: unknown };

/** How a stream ended: its last event was sent, it failed, or the client left first. */
export type StreamOutcome = { kind: 'done'; event: Extract<StreamEvent, { done: true }> } | { kind: 'failed'; error: unknown } | { kind: 'cancelled' };

/**
 * The source stream of one subscription, around `open(signal)` (a `requests.captionStream` / `answerStream` call).
 *
 * - An error (a bad input before the first event, a failure later) becomes one last payload instead of a thrown
 *   error: the field resolver throws it, so the client gets an ordinary GraphQL error with its `extensions.code` in a
 *   `next` message on both transports, then `complete`.
 * - `return()` (the client unsubscribed, its socket or request closed) aborts the signal at once. An async generator
 *   would only see `return()` after its pending `await` settled, i.e. after the next decode step or the whole
 *   request, while the signal lets the engine drop the item's rows at the next step.
 * - `onEnd` runs exactly once, with the outcome.
 */
export function createEventSource(open: (signal: AbortSignal) => AsyncIterable<StreamEvent>, clientGone: AbortSignal | undefined, onEnd: (outcome: StreamOutcome) => void): AsyncIterableIterator<StreamPayload> {
  const controller = new AbortController();
  const signal = clientGone ? AbortSignal.any([controller.signal, clientGone]) : controller.signal;
  let inner: AsyncIterator<StreamEvent> | undefined;
  let ended = false;
  const end = (outcome: StreamOutcome) => {
    if (ended) return;
    ended = true;
    onEnd(outcome);
  };
  const finished = (): IteratorResult<StreamPayload> => ({ done: true, value: undefined });
  const stop = async (): Promise<IteratorResult<StreamPayload>> => {
    if (!ended) controller.abort(new ServiceError(ErrorCode.CANCELLED, 'The client ended the subscription'));
    end({ kind: 'cancelled' });
    // Not awaited: a generator suspended in an await finishes its return() only when that await settles.
    inner?.return?.().catch(() => undefined);
    return finished();
  };
  return {
    async next() {
      if (ended) return finished();
      try {
        inner ??= open(signal)[Symbol.asyncIterator]();
        const step = await inner.next();
        if (ended) return finished();
        if (step.done) {
          end({ kind: 'failed', error: new ServiceError(ErrorCode.INFERENCE_FAILED, 'The stream ended without a result') });
          return finished();
        }
        if (step.value.done) end({ kind: 'done', event: step.value });
        return { done: false, value: { event: step.value } };
      } catch (error) {
        if (ended) return finished();
        end({ kind: 'failed', error });
        return { done: false, value: { error } };
      }
    },
    return: stop,
    throw: stop,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
