import { afterEach, describe, expect, it } from 'vitest';
import { LimitsDocument } from '../../generated/graphql.ts';
import { startTestServer, type TestServer } from '../gateway/helpers.ts';
import { capturingLogger } from '../../helpers/log-capture.ts';

/**
 * TRUST_PROXY: the client address used for rate limits and logs comes from X-Forwarded-For only when the TCP peer is
 * a trusted proxy (the test client is on 127.0.0.1 and plays the proxy). Rate limit: 1 request per client, refilled
 * every 10 s, so a second request from the same client is refused.
 */
describe('TRUST_PROXY', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const start = async (trustProxy: string | undefined) => {
    const log = capturingLogger();
    t = await startTestServer({ env: { RATE_LIMIT_PER_MINUTE: '6', RATE_LIMIT_BURST: '1', ...(trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy }) }, logger: log.logger });
    const send = (forwardedFor?: string) => t!.gql(LimitsDocument, undefined, forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor });
    const clientIps = async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return log.lines().filter((line) => line.msg === 'request').map((line) => line.clientIp);
    };
    return { send, clientIps };
  };

  it('unset: the TCP peer is the client, X-Forwarded-For is ignored (it could be forged)', async () => {
    const { send, clientIps } = await start(undefined);
    expect((await send('203.0.113.1')).status).toBe(200);
    const second = await send('203.0.113.2');
    expect(second.status).toBe(429);
    expect(second.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(await clientIps()).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('a trusted proxy address: each forwarded client has its own bucket; an untrusted hop is not skipped', async () => {
    const { send, clientIps } = await start('127.0.0.1');
    expect((await send('203.0.113.1')).status).toBe(200);
    expect((await send('203.0.113.2')).status).toBe(200);
    expect((await send('203.0.113.1')).status).toBe(429);
    // A client that forged an entry before the real one: the rightmost untrusted address counts.
    expect((await send('198.51.100.9, 203.0.113.2')).status).toBe(429);
    expect(await clientIps()).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.1', '203.0.113.2']);
  });

  it('a hop count: the peer and the next hop are trusted, the address before them is the client', async () => {
    const { send, clientIps } = await start('2');
    expect((await send('198.51.100.9, 203.0.113.5, 10.0.0.7')).status).toBe(200);
    expect((await send('203.0.113.6, 10.0.0.8')).status).toBe(200);
    expect((await send('203.0.113.5, 10.0.0.9')).status).toBe(429);
    expect(await clientIps()).toEqual(['203.0.113.5', '203.0.113.6', '203.0.113.5']);
  });

  it('a CIDR that does not hold the peer: X-Forwarded-For is ignored', async () => {
    const { send, clientIps } = await start('10.0.0.0/8');
    expect((await send('203.0.113.1')).status).toBe(200);
    expect((await send('203.0.113.2')).status).toBe(429);
    expect(await clientIps()).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('stream bounds key clients the same way: one open SSE stream per forwarded client, not per proxy', async () => {
    t = await startTestServer({ env: { TRUST_PROXY: 'loopback', STREAM_MAX_CONNECTIONS_PER_CLIENT: '1' } });
    const query = 'subscription ($input: CaptionInput!) { captionStream(input: $input) { done } }';
    const input = { model: 'blip-tiny', image: { base64: 'iVBORw0KGgo=' } };
    const open = (forwardedFor: string, signal: AbortSignal) =>
      fetch(`${t!.url}/graphql/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ query, variables: { input: { ...input, options: { minLength: 60, maxLength: 64, numBeams: 16 } } } }),
        signal,
      });
    const controller = new AbortController();
    const first = await open('203.0.113.10', controller.signal);
    expect([first.status, first.status === 200 ? '' : await first.text()]).toEqual([200, '']);
    // Another client behind the same proxy has its own slot; the same client has none left.
    const other = await open('203.0.113.11', controller.signal);
    expect(other.status).toBe(200);
    const again = await open('203.0.113.10', controller.signal);
    expect(again.status).toBe(429);
    expect((await again.json()).errors[0].extensions.code).toBe('TOO_MANY_CONNECTIONS');
    controller.abort();
  });
});
