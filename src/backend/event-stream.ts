import { ErrorCode } from '../errors.ts';
import type { ItemResult } from './items.ts';
import type { BackendEvent } from './events.ts';

/**
 * One item's events, from a producer to one consumer (a backend's BackendEvents by default). A `done` or `error`
 * event ends it. Bounded by construction: lifecycle events come at most once
 * each, and a `token` event replaces an unread `token` event before it (each carries the whole text so far), so a
 * consumer that reads slowly sees fewer, newer events and never makes the backend wait or buffer without bound.
 *
 * Leaving the `for await` loop early (or calling `return()`) tells the producer through `onAbandon`, so the item's
 * rows can leave the decode batch.
 */
export class EventStream<E extends { type: string } = BackendEvent> implements AsyncIterableIterator<E> {
  private readonly buffer: E[] = [];
  private waiter: ((result: IteratorResult<E>) => void) | undefined;
  /** A terminal event (`done` or `error`) was pushed: later pushes are ignored. */
  private ended = false;
  /** The consumer left or read the terminal event. */
  private finished = false;
  private abandonListener: (() => void) | undefined;

  /** Called once if the consumer stops reading before the terminal event. */
  onAbandon(listener: () => void): void {
    this.abandonListener = listener;
  }

  /** True once `done` or `error` was pushed. */
  get isEnded(): boolean {
    return this.ended;
  }

  push(event: E): void {
    if (this.ended) return;
    if (event.type === 'done' || event.type === 'error') this.ended = true;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.finished) return;
    const last = this.buffer.length - 1;
    if (event.type === 'token' && last >= 0 && this.buffer[last].type === 'token') this.buffer[last] = event;
    else this.buffer.push(event);
  }

  next(): Promise<IteratorResult<E>> {
    const event = this.buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.finished || this.ended) {
      this.finished = true;
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<E>> {
    if (!this.finished) {
      this.finished = true;
      this.buffer.length = 0;
      if (!this.ended) this.abandonListener?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A stream that holds just one event: what a backend returns for an item it refuses outright. */
export function streamOf(event: BackendEvent): EventStream {
  const stream = new EventStream();
  stream.push(event);
  return stream;
}

/** Reads a stream to its end: the item's result as the worker protocol used to carry it (failures as values). */
export async function resultOf(stream: EventStream): Promise<ItemResult> {
  for await (const event of stream) {
    if (event.type === 'done') return { ok: true, value: event.output };
    if (event.type === 'error') return { ok: false, error: event.error };
  }
  return { ok: false, error: { code: ErrorCode.INFERENCE_FAILED, message: 'The item ended without a result' } };
}
