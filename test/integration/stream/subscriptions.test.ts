import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerDocument, AnswerStreamDocument, CaptionDocument, CaptionStreamDocument } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from '../gateway/helpers.ts';
import { overSse, overWebSocket, scrape, waitFor, wsClient, type Streamed } from './stream-clients.ts';
import { capturingLogger } from '../../helpers/log-capture.ts';

const IMAGE = { base64: base64Image('gradient_64x48.png') };
const TRANSPORTS = ['graphql-ws', 'graphql-sse'] as const;
type Transport = (typeof TRANSPORTS)[number];
/** blip-tiny decoding 60 steps of 16 beams: long enough (about 2 s here) to act while it runs. */
const LONG_OPTIONS = { numBeams: 16, minLength: 60, maxLength: 64 };

/**
 * The events' payloads build the text up to the result: `delta` is what `text` added to the previous event's text (the
 * whole text when it is not an extension: beam search may change its best hypothesis), `result` only on the one last
 * `done` event. Greedy decoding only ever extends its text.
 */
function expectWellFormed(events: Array<{ text: string; delta: string; done: boolean; result?: unknown }>, finalText: string, greedy = true): void {
  expect(events.length).toBeGreaterThanOrEqual(1);
  expect(events.map((e) => e.done)).toEqual([...events.slice(1).map(() => false), true]);
  let previous = '';
  for (const event of events) {
    if (greedy) expect(event.text.startsWith(previous)).toBe(true);
    expect(event.delta).toBe(event.text.startsWith(previous) ? event.text.slice(previous.length) : event.text);
    if (!event.done) expect(event.result).toBeNull();
    previous = event.text;
  }
  expect(events.at(-1)!.text).toBe(finalText);
}

describe('captionStream and answerStream over graphql-ws and graphql-sse', () => {
  let t: TestServer;
  let ws: Client;
  const log = capturingLogger();
  const subscriptionLines = () => log.lines().filter((line) => line.msg === 'subscription');
  const run = <TData, TVariables>(transport: Transport, document: Parameters<typeof overSse<TData, TVariables>>[1], variables: TVariables): Promise<Streamed<TData>> =>
    transport === 'graphql-ws' ? overWebSocket(ws, document, variables) : overSse(t.url, document, variables);

  beforeAll(async () => {
    t = await startTestServer({ logger: log.logger });
    ws = wsClient(t.url);
  });
  afterAll(async () => {
    await ws?.dispose();
    await t?.close();
  });

  it.each(TRANSPORTS)('%s: captionStream ends with the caption mutation\'s result for the same input (greedy and beam search)', async (transport) => {
    for (const options of [undefined, { numBeams: 3, maxNewTokens: 12 }]) {
      const input = { image: IMAGE, model: 'blip-tiny', prompt: 'a picture of', options };
      const mutation = (await t.gql(CaptionDocument, { input })).body.data!.caption;
      const streamed = await run(transport, CaptionStreamDocument, { input });
      expect(streamed.error).toBeUndefined();
      expect(streamed.results.every((r) => r.errors === undefined)).toBe(true);
      const events = streamed.results.map((r) => r.data!.captionStream);
      expectWellFormed(events, mutation.caption, options === undefined);
      expect(events.at(-1)!.result).toEqual({ ...mutation, timings: expect.objectContaining({ totalMs: expect.any(Number) }) });
    }
  });

  it.each(TRANSPORTS)('%s: answerStream ends with the answer mutation\'s result', async (transport) => {
    const input = { image: IMAGE, model: 'blip-tiny-vqa', question: 'what color is the sky?' };
    const mutation = (await t.gql(AnswerDocument, { input })).body.data!.answer;
    const streamed = await run(transport, AnswerStreamDocument, { input });
    const events = streamed.results.map((r) => r.data!.answerStream);
    expectWellFormed(events, mutation.answer);
    expect(events.at(-1)!.result).toEqual({ ...mutation, timings: expect.any(Object) });
  });

  it.each(TRANSPORTS)('%s: a bad input gets the mutation\'s error (message and extensions) in one event, then the stream completes', async (transport) => {
    const cases = [
      { model: 'blip-tiyn' }, // MODEL_NOT_FOUND with suggestions
      { model: 'blip-tiny-vqa' }, // WRONG_TASK
      { model: 'blip-tiny', options: { numBeams: 0 } }, // BAD_USER_INPUT
      { model: 'blip-tiny', image: { base64: Buffer.from('not an image').toString('base64') } }, // UNSUPPORTED_IMAGE_FORMAT
    ];
    const codes: unknown[] = [];
    for (const fields of cases) {
      const input = { image: IMAGE, ...fields };
      const mutation = (await t.gql(CaptionDocument, { input })).body.errors![0];
      const streamed = await run(transport, CaptionStreamDocument, { input });
      expect(streamed.error).toBeUndefined();
      expect(streamed.results).toEqual([{ data: null, errors: [{ ...mutation, path: ['captionStream'], locations: expect.any(Array) }] }]);
      codes.push(mutation.extensions!.code);
    }
    expect(codes).toEqual(['MODEL_NOT_FOUND', 'WRONG_TASK', 'BAD_USER_INPUT', 'UNSUPPORTED_IMAGE_FORMAT']);

    const tooLong = await run(transport, AnswerStreamDocument, { input: { image: IMAGE, model: 'blip-tiny-vqa', question: 'why? '.repeat(200) } });
    expect(tooLong.results[0].errors![0].extensions).toEqual({ code: 'QUESTION_TOO_LONG', chars: 1000, maxChars: 500 });
  });

  it('graphql-sse also takes GET with the operation in the URL (as EventSource sends it)', async () => {
    const input = { image: IMAGE, model: 'blip-tiny' };
    const mutation = (await t.gql(CaptionDocument, { input })).body.data!.caption;
    const query = 'subscription($input: CaptionInput!) { captionStream(input: $input) { text done } }';
    const response = await fetch(`${t.url}/graphql/stream?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ input }))}`, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain(`event: next\ndata: ${JSON.stringify({ data: { captionStream: { text: mutation.caption, done: true } } })}\n`);
    expect(text).toMatch(/event: complete\n/);
  });

  it.each(TRANSPORTS)('%s: request errors keep the codes of POST /graphql; queries and mutations are refused here', async (transport) => {
    const codeOf = (streamed: Streamed<unknown> & { status?: number }) => {
      // graphql-ws: an `error` message; graphql-sse: HTTP 400 with a JSON body, as POST /graphql.
      if (transport === 'graphql-sse') expect(streamed.status).toBe(400);
      const errors = (streamed.error ?? streamed.results[0]?.errors) as Array<{ extensions: { code: string } }> | { errors: Array<{ extensions: { code: string } }> };
      return (Array.isArray(errors) ? errors : errors.errors)[0].extensions.code;
    };
    expect(codeOf(await run(transport, 'subscription { captionStream(input: {image: {}}) { nope } }', {}))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(codeOf(await run(transport, 'subscription($input: CaptionInput!) { captionStream(input: $input) { text } }', {}))).toBe('BAD_USER_INPUT');
    expect(codeOf(await run(transport, 'subscription { captionStream(', {}))).toBe('GRAPHQL_PARSE_FAILED');
    expect(codeOf(await run(transport, '{ limits { maxBatchItems } }', {}))).toBe('BAD_REQUEST');
    const deep = `subscription { captionStream(input: {image: {imageId: "x"}}) { result { timings { totalMs } } ${'a: text '.repeat(250)} } }`;
    expect(codeOf(await run(transport, deep, {}))).toBe('QUERY_TOO_COMPLEX');
  });

  it.each(TRANSPORTS)('%s: ending the subscription stops its request: no result, the rows leave within a second', async (transport) => {
    const input = { image: IMAGE, model: 'blip-tiny', options: LONG_OPTIONS };
    await t.gql(CaptionDocument, { input }); // loads the variant
    const depth = async () => (await scrape(t.url)).get('blip_queue_depth{variant="blip-tiny"}') ?? 0;
    const cancelled = async () => (await scrape(t.url)).get('blip_errors_total{code="CANCELLED",operation="captionStream"}') ?? 0;
    const cancelledBefore = await cancelled();
    const received: unknown[] = [];

    let stop: () => void;
    let ended: Promise<unknown>;
    if (transport === 'graphql-ws') {
      let unsubscribe!: () => void;
      ended = new Promise((resolve) => {
        unsubscribe = ws.subscribe({ query: 'subscription($input: CaptionInput!) { captionStream(input: $input) { text done } }', variables: { input } }, { next: (result) => void received.push(result), error: resolve, complete: () => resolve(undefined) });
      });
      stop = unsubscribe;
    } else {
      const controller = new AbortController();
      ended = overSse(t.url, CaptionStreamDocument, { input }, controller.signal).catch((error) => error);
      stop = () => controller.abort();
    }
    await waitFor(async () => (await depth()) === 1, 10_000, 'the request to be admitted');
    const stoppedAt = Date.now();
    stop();
    await waitFor(async () => (await depth()) === 0, 1000, 'the rows to leave');
    await ended;
    // Partial texts may have arrived before the stop; the result never does.
    expect(received.filter((r) => (r as { data?: { captionStream?: { done?: boolean } } }).data?.captionStream?.done)).toEqual([]);
    // Over WebSocket the subscription's record reaches the metrics when it completes: the request was cancelled.
    if (transport === 'graphql-ws') {
      await waitFor(async () => (await cancelled()) === cancelledBefore + 1, 1000, 'CANCELLED to be counted');
      // ...and its log line, the one line a WebSocket subscription gets, says so.
      expect(subscriptionLines().at(-1)).toMatchObject({ transport: 'graphql-ws', operations: [{ operation: 'captionStream', errorCodes: ['CANCELLED'] }], errorCodes: ['CANCELLED'] });
    }
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
  });

  it('graphql-ws: each completed subscription writes one log line with its own id, the client and what it served', async () => {
    const before = subscriptionLines().length;
    const input = { image: IMAGE, model: 'blip-tiny' };
    for (let i = 0; i < 2; i++) expect((await overWebSocket(ws, CaptionStreamDocument, { input })).error).toBeUndefined();
    await waitFor(async () => subscriptionLines().length === before + 2, 1000, 'two subscription lines');
    const lines = subscriptionLines().slice(before);
    for (const line of lines) {
      expect(line).toMatchObject({ level: 30, transport: 'graphql-ws', path: '/graphql', clientIp: '127.0.0.1', operationName: 'CaptionStream', operations: [{ operation: 'captionStream', variants: ['blip-tiny'], items: 1 }] });
      expect(line.requestId).toMatch(/^ws-\d+$/);
      expect(line.durationMs).toBeGreaterThan(0);
      expect(line.errorCodes).toBeUndefined();
      // Never the image or the text.
      expect(JSON.stringify(line)).not.toContain(IMAGE.base64.slice(0, 40));
    }
    expect(lines[0].requestId).not.toBe(lines[1].requestId);
  });
});
