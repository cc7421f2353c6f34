import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionDocument, CaptionStreamDocument } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from '../gateway/helpers.ts';
import { overSse, overWebSocket, wsClient } from './stream-clients.ts';

/**
 * Token events: the server sends the text after decode steps, not only the final result. Greedy decoding on
 * blip-tiny with minLength = maxLength = 21 ([DEC] + 20 generated tokens) forces a 20-token caption.
 */
describe('a 20-token caption streams as it is generated', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  const input = { image: { base64: base64Image('shapes_400x300.jpg') }, model: 'blip-tiny', options: { minLength: 21, maxLength: 21 } };

  it.each(['graphql-ws', 'graphql-sse'] as const)('%s: at least three events with growing text before the done event', async (transport) => {
    const mutation = (await t.gql(CaptionDocument, { input })).body.data!.caption;
    expect(mutation.sequence).toHaveLength(21);
    const ws = wsClient(t.url);
    try {
      const streamed = transport === 'graphql-ws' ? await overWebSocket(ws, CaptionStreamDocument, { input }) : await overSse(t.url, CaptionStreamDocument, { input });
      const events = streamed.results.map((r) => r.data!.captionStream);
      const partial = events.filter((e) => !e.done);
      expect(partial.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < partial.length; i++) {
        expect(partial[i].text.startsWith(partial[i - 1].text)).toBe(true);
        expect(partial[i].delta).toBe(partial[i].text.slice(partial[i - 1].text.length));
      }
      expect(new Set(partial.map((e) => e.text)).size).toBeGreaterThanOrEqual(3);
      expect(events.at(-1)).toEqual({ text: mutation.caption, delta: expect.any(String), done: true, result: { ...mutation, timings: expect.any(Object) } });
      expect(mutation.caption.startsWith(partial.at(-1)!.text)).toBe(true);
    } finally {
      await ws.dispose();
    }
  });
});
