import { describe, expect, it } from 'vitest';
import type { EventStream } from '../../../src/backend/event-stream.ts';
import type { BackendEvent, BackendItem } from '../../../src/backend/model-backend.ts';
import { WorkerBackend } from '../../../src/backend/worker/worker-backend.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { useFixtureVariantDirs } from '../../helpers/converted-variant.ts';
import { IMAGE_NAMES, readImage } from '../../helpers/fixtures.ts';

/** Every event of a stream, in order. */
async function collect(stream: EventStream): Promise<BackendEvent[]> {
  const events: BackendEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** What a streaming client shows: each token event's text minus the previous text, concatenated. */
function concatenatedDeltas(events: readonly BackendEvent[]): string {
  let previous = '';
  let out = '';
  for (const event of events) {
    const text = event.type === 'token' ? event.text : event.type === 'done' ? event.output.text : undefined;
    if (text === undefined) continue;
    expect(text.startsWith(previous)).toBe(true);
    out += text.slice(previous.length);
    previous = text;
  }
  return out;
}

describe('token events across the worker boundary', () => {
  const variants = useFixtureVariantDirs();

  it('greedy: one token event per decode step, in order, then done; the deltas add up to the non-streamed text', async () => {
    const backend = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const item = (): BackendItem => ({ kind: 'caption', item: { image: readImage(IMAGE_NAMES[0]), options: { maxNewTokens: 20, minNewTokens: 20 } } });
      const plain = await collect(backend.submit(item()));
      const streamed = await collect(backend.submit(item(), { stream: true }));
      // Without `stream`, only the lifecycle.
      expect(plain.map((e) => e.type)).toEqual(['admitted', 'encoded', 'done']);
      const done = streamed.at(-1);
      if (done?.type !== 'done' || plain[2].type !== 'done') throw new Error('no result');
      expect(done.output.sequence).toEqual(plain[2].output.sequence);
      expect(done.output.tokens).toEqual({ prompt: 1, generated: 20 });
      const tokens = streamed.filter((e) => e.type === 'token');
      // 20 generated tokens: 19 steps report a token, the 20th ends the item with `done`.
      expect(tokens.map((e) => e.generated)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
      expect(streamed.map((e) => e.type)).toEqual(['admitted', 'encoded', ...tokens.map(() => 'token'), 'done']);
      expect(concatenatedDeltas(streamed)).toBe(plain[2].output.text);
    } finally {
      await backend.close();
    }
  });

  it('a mixed group (greedy, prompted, beam search, and one that does not stream) gets the same results as alone', async () => {
    // No embedding cache: the group's pass must run the vision encoder on its four images again.
    const backend = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS, embeddingCacheBytes: 0 });
    try {
      const items = (): BackendItem[] => [
        { kind: 'caption', item: { image: readImage(IMAGE_NAMES[1]), options: { maxNewTokens: 12, minNewTokens: 12 } } },
        { kind: 'caption', item: { image: readImage(IMAGE_NAMES[2]), prompt: 'a picture of', options: { maxNewTokens: 8 } } },
        { kind: 'caption', item: { image: readImage(IMAGE_NAMES[3]), options: { maxNewTokens: 10, numBeams: 3 } } },
        { kind: 'caption', item: { image: readImage(IMAGE_NAMES[4]), options: { maxNewTokens: 6 } } },
      ];
      const alone: BackendEvent[][] = [];
      for (const item of items()) alone.push(await collect(backend.submit(item)));
      const together = await Promise.all(backend.submitGroup(items().map((item, i) => ({ item, controls: { stream: i < 3 } }))).map(collect));
      together.forEach((events, i) => {
        const last = events.at(-1);
        const reference = alone[i].at(-1);
        if (last?.type !== 'done' || reference?.type !== 'done') throw new Error(`item ${i} failed`);
        expect(last.output.sequence).toEqual(reference.output.sequence);
        const generated = events.filter((e) => e.type === 'token').map((e) => e.generated);
        if (i === 3) expect(generated).toEqual([]);
        else expect(generated).toEqual(Array.from({ length: last.output.tokens.generated - 1 }, (_, k) => k + 1));
        // Greedy rows only ever extend their text; beam search may change its best hypothesis, so only its end is checked.
        if (i < 2) expect(concatenatedDeltas(events)).toBe(last.output.text);
      });
      // The four were one encoder pass over four distinct images.
      const encoded = together.map((events) => events.find((e) => e.type === 'encoded'));
      expect(new Set(encoded.map((e) => e?.type === 'encoded' && e.pass)).size).toBe(1);
      expect(encoded.map((e) => e?.type === 'encoded' && e.encoderBatch)).toEqual([4, 4, 4, 4]);
    } finally {
      await backend.close();
    }
  });

  it('a cancelled item gets no event after its error, and its rows leave the batch', async () => {
    const backend = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const controller = new AbortController();
      const stream = backend.submit({ kind: 'caption', item: { image: readImage(IMAGE_NAMES[0]), options: { maxNewTokens: 60, minNewTokens: 60, numBeams: 4 } } }, { signal: controller.signal, stream: true });
      const events: BackendEvent[] = [];
      for await (const event of stream) {
        events.push(event);
        if (event.type === 'token' && event.generated === 3) controller.abort();
      }
      expect(events.at(-1)).toMatchObject({ type: 'error', error: { code: 'CANCELLED', details: { stage: 'decode' } } });
      expect(events.filter((e) => e.type === 'token').every((e) => e.type === 'token' && e.generated <= 4)).toBe(true);
      await until(async () => (await backend.stats()).running === 0);
    } finally {
      await backend.close();
    }
  });

  it('a consumer that reads slowly sees fewer, newer token events, never a backlog', async () => {
    const backend = await WorkerBackend.start(variants.caption, { imageLimits: DEFAULT_IMAGE_LIMITS });
    try {
      const stream = backend.submit({ kind: 'caption', item: { image: readImage(IMAGE_NAMES[2]), options: { maxNewTokens: 40, minNewTokens: 40 } } }, { stream: true });
      // Read nothing until the item is over: the stream holds the lifecycle, the latest token and the result.
      await until(async () => stream.isEnded);
      const events = await collect(stream);
      expect(events.map((e) => e.type)).toEqual(['admitted', 'encoded', 'token', 'done']);
      expect(events[2]).toMatchObject({ type: 'token', generated: 39 });
    } finally {
      await backend.close();
    }
  });
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > 10_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
