import { describe, expect, it } from 'vitest';
import type { ServedResult } from '../../../src/batching/types.ts';
import { ServiceError } from '../../../src/errors.ts';
import type { StreamEvent } from '../../../src/gateway/stream-events.ts';
import { createEventSource, type StreamOutcome } from '../../../src/graphql/event-source.ts';

const RESULT = { text: 'a dog' } as unknown as ServedResult;

async function collect(source: AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const item of source) items.push(item);
  return items;
}

describe('createEventSource', () => {
  it('passes events through and reports the done event once', async () => {
    const outcomes: StreamOutcome[] = [];
    async function* events(): AsyncGenerator<StreamEvent> {
      yield { done: false, text: 'a', delta: 'a' };
      yield { done: true, text: 'a dog', delta: ' dog', result: RESULT };
    }
    const items = await collect(createEventSource(() => events(), undefined, (o) => outcomes.push(o)));
    expect(items).toEqual([{ event: { done: false, text: 'a', delta: 'a' } }, { event: { done: true, text: 'a dog', delta: ' dog', result: RESULT } }]);
    expect(outcomes).toEqual([{ kind: 'done', event: { done: true, text: 'a dog', delta: ' dog', result: RESULT } }]);
  });

  it('turns a thrown error into one last payload, then ends', async () => {
    const error = new ServiceError('MODEL_NOT_FOUND', 'Unknown model');
    const outcomes: StreamOutcome[] = [];
    async function* failing(): AsyncGenerator<StreamEvent> {
      throw error;
    }
    expect(await collect(createEventSource(() => failing(), undefined, (o) => outcomes.push(o)))).toEqual([{ error }]);
    expect(outcomes).toEqual([{ kind: 'failed', error }]);
  });

  it('return() aborts the signal at once, while the stream is waiting for its next step', async () => {
    let seen: AbortSignal | undefined;
    const outcomes: StreamOutcome[] = [];
    async function* slow(signal: AbortSignal): AsyncGenerator<StreamEvent> {
      seen = signal;
      yield { done: false, text: 'a', delta: 'a' };
      // A decode step that never ends by itself: only the abort ends it.
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    const source = createEventSource((signal) => slow(signal), undefined, (o) => outcomes.push(o));
    expect(await source.next()).toEqual({ done: false, value: { event: { done: false, text: 'a', delta: 'a' } } });
    const pending = source.next();
    expect(seen!.aborted).toBe(false);
    expect(await source.return!()).toEqual({ done: true, value: undefined });
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as ServiceError).code).toBe('CANCELLED');
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(outcomes).toEqual([{ kind: 'cancelled' }]);
  });

  it('a closed connection (the context signal) aborts the request too', async () => {
    const connection = new AbortController();
    let seen: AbortSignal | undefined;
    const source = createEventSource(
      (signal) => {
        seen = signal;
        return (async function* (): AsyncGenerator<StreamEvent> {})();
      },
      connection.signal,
      () => undefined,
    );
    await source.next();
    connection.abort();
    expect(seen!.aborted).toBe(true);
  });
});
