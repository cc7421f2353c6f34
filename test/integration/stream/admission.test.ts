import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CaptionStreamDocument } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from '../gateway/helpers.ts';
import { overSse, overWebSocket, scrape, waitFor, wsClient, wsUrl } from './stream-clients.ts';

const IMAGE = { base64: base64Image('gradient_64x48.png') };
const LONG_INPUT = { image: IMAGE, model: 'blip-tiny', options: { numBeams: 16, minLength: 60, maxLength: 64 } };
const SHORT_INPUT = { image: IMAGE, model: 'blip-tiny' };
const APP = 'http://app.example.test:5173';

/** Opens a raw WebSocket handshake: the 101's socket, or the HTTP answer that refused it. */
async function handshake(url: string, options: { origin?: string; protocol?: string }): Promise<{ upgraded: true; socket: WebSocket } | { upgraded: false; status: number; body: any }> {
  const socket = new WebSocket(url, options.protocol ?? 'graphql-transport-ws', options.origin ? { origin: options.origin } : {});
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ upgraded: true, socket }));
    socket.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    socket.once('error', reject);
  });
}

describe('streaming admission: origins, subprotocol, per-client bounds (production, CORS_ORIGINS listed)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { NODE_ENV: 'production', CORS_ORIGINS: APP, STREAM_MAX_CONNECTIONS_PER_CLIENT: '2', STREAM_MAX_SUBSCRIPTIONS_PER_CLIENT: '1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a WebSocket from an origin CORS refuses with HTTP 403 and no 101; listed and same-origin pages connect', async () => {
    const refused = await handshake(wsUrl(t.url), { origin: 'https://evil.example.test' });
    expect(refused).toEqual({ upgraded: false, status: 403, body: { errors: [{ message: 'WebSocket connections from https://evil.example.test are not allowed (see CORS_ORIGINS)', extensions: { code: 'FORBIDDEN' } }] } });
    for (const origin of [APP, t.url]) {
      const accepted = await handshake(wsUrl(t.url), { origin });
      expect(accepted.upgraded).toBe(true);
      if (accepted.upgraded) {
        expect(accepted.socket.protocol).toBe('graphql-transport-ws');
        accepted.socket.close();
        await once(accepted.socket, 'close');
      }
    }
    const sse = await fetch(`${t.url}/graphql/stream`, { method: 'POST', headers: { origin: 'https://evil.example.test', 'content-type': 'application/json', accept: 'text/event-stream' }, body: '{}' });
    expect(sse.status).toBe(403);
    expect((await sse.json()).errors[0].extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('speaks only graphql-transport-ws (HTTP 400 otherwise) and only on /graphql (404)', async () => {
    expect(await handshake(wsUrl(t.url), { protocol: 'graphql-ws' })).toMatchObject({ upgraded: false, status: 400, body: { errors: [{ extensions: { code: 'BAD_REQUEST' } }] } });
    expect(await handshake(`${wsUrl(t.url)}/elsewhere`, {})).toMatchObject({ upgraded: false, status: 404 });
  });

  it('bounds connections per client at the handshake (429 TOO_MANY_CONNECTIONS) and subscriptions per client at subscribe time (TOO_MANY_SUBSCRIPTIONS)', async () => {
    const first = wsClient(t.url, false);
    const second = wsClient(t.url, false);
    try {
      // The first connection runs a long subscription: the client's one subscription.
      let firstEvents: unknown[] = [];
      const running = new Promise<void>((resolve, reject) => {
        first.subscribe({ query: 'subscription($input: CaptionInput!) { captionStream(input: $input) { done } }', variables: { input: LONG_INPUT } }, { next: (r) => void firstEvents.push(r), error: reject, complete: resolve });
      });
      await waitFor(async () => (await scrape(t.url)).get('blip_queue_depth{variant="blip-tiny"}') === 1, 10_000, 'the first subscription to run');

      // A second connection is allowed (2 per client), but no second subscription: refused when it subscribes, as a
      // request error (no data).
      const refusedWs = await overWebSocket(second, CaptionStreamDocument, { input: SHORT_INPUT });
      const refusal = { message: 'This client already runs the most subscriptions this server allows (1); end one first', locations: expect.any(Array), path: ['captionStream'], extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', maxSubscriptions: 1 } };
      expect(refusedWs.results).toEqual([{ errors: [refusal] }]);
      // SSE: the stream request is a third connection: refused at the door.
      const refusedSse = await overSse(t.url, CaptionStreamDocument, { input: SHORT_INPUT });
      expect(refusedSse).toEqual({ status: 429, results: [], error: { errors: [{ message: 'This client already holds the most streaming connections this server allows (2); close one first', extensions: { code: 'TOO_MANY_CONNECTIONS', maxConnections: 2 } }] } });
      const third = await handshake(wsUrl(t.url), {});
      expect(third).toMatchObject({ upgraded: false, status: 429, body: { errors: [{ extensions: { code: 'TOO_MANY_CONNECTIONS', maxConnections: 2 } }] } });

      await running;
      expect(firstEvents.length).toBeGreaterThanOrEqual(1);
      // Once the first subscription ended, the client may start another.
      const after = await overWebSocket(second, CaptionStreamDocument, { input: SHORT_INPUT });
      expect(after.results.at(-1)?.data?.captionStream.done).toBe(true);
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
    // Closed connections give their slots back: SSE works again.
    await waitFor(async () => (await overSse(t.url, CaptionStreamDocument, { input: SHORT_INPUT })).status === 200, 2000, 'the connection slots to be released');
  });
});

describe('streaming and the rate limit (when configured)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { RATE_LIMIT_PER_MINUTE: '1', RATE_LIMIT_BURST: '2' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a WebSocket handshake and an SSE request each take a token: beyond the burst, 429 RATE_LIMITED', async () => {
    const first = await handshake(wsUrl(t.url), {});
    expect(first.upgraded).toBe(true);
    if (first.upgraded) first.socket.close();
    expect((await overSse(t.url, CaptionStreamDocument, { input: SHORT_INPUT })).status).toBe(200);
    expect(await handshake(wsUrl(t.url), {})).toMatchObject({ upgraded: false, status: 429, body: { errors: [{ extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } }] } });
    expect(await overSse(t.url, CaptionStreamDocument, { input: SHORT_INPUT })).toMatchObject({ status: 429, error: { errors: [{ extensions: { code: 'RATE_LIMITED' } }] } });
  });
});
