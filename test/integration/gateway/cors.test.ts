import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestServer, type TestServer } from './helpers.ts';

const STUDIO = 'https://studio.apollographql.com';
const APP = 'http://app.example.test:5173';
const ELSEWHERE = 'https://evil.example.test';
const PREFLIGHT_HEADERS = 'content-type,apollo-require-preflight,x-apollo-operation-name,x-request-id,authorization,x-admin-key';

/** What a browser sends before a cross-origin POST with a JSON body. */
function preflight(url: string, origin: string): Promise<Response> {
  return fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,apollo-require-preflight' },
  });
}

function postModels(url: string, origin: string): Promise<Response> {
  return fetch(`${url}/graphql`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ limits { maxBatchItems } }' }) });
}

describe('CORS outside production (default: any origin, without credentials)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a preflight from Apollo Studio with 204, the allowed headers and a max-age', async () => {
    const response = await preflight(t.url, STUDIO);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-headers')).toBe(PREFLIGHT_HEADERS);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST,OPTIONS');
    expect(response.headers.get('access-control-max-age')).toBe('7200');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('lets any origin read a POST; the request id and Retry-After are readable', async () => {
    const response = await postModels(t.url, ELSEWHERE);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id,retry-after');
    expect(await readJson(response)).toEqual({ data: { limits: { maxBatchItems: 32 } } });
  });

  it("keeps Apollo's CSRF prevention: a cross-origin multipart request without a preflight header is refused", async () => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: 'mutation($f: Upload) { uploadImage(image: { upload: $f }) { id } }', variables: { f: null } }));
    form.append('map', JSON.stringify({ 0: ['variables.f'] }));
    form.append('0', new Blob([new Uint8Array(10)]), 'x.png');
    const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { origin: ELSEWHERE }, body: form });
    expect(response.status).toBe(400);
    expect((await readJson(response)).errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
  });
});

describe('CORS in production', () => {
  let closed: TestServer;
  let listed: TestServer;
  beforeAll(async () => {
    [closed, listed] = await Promise.all([
      startTestServer({ env: { NODE_ENV: 'production' } }),
      startTestServer({ env: { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', CORS_ORIGINS: APP } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([closed?.close(), listed?.close()]);
  });

  it('with nothing listed and introspection off: no origin gets CORS headers, not even Apollo Studio', async () => {
    for (const origin of [STUDIO, ELSEWHERE]) {
      const response = await preflight(closed.url, origin);
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const post = await postModels(closed.url, origin);
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('the same origin needs no CORS headers and is served', async () => {
    const response = await postModels(closed.url, closed.url);
    expect(response.status).toBe(200);
    expect(await readJson(response)).toEqual({ data: { limits: { maxBatchItems: 32 } } });
  });

  it('listed origins and Apollo Studio (introspection on) get their origin reflected with credentials; others get nothing', async () => {
    for (const origin of [APP, STUDIO, 'https://sandbox.embed.apollographql.com']) {
      const response = await preflight(listed.url, origin);
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(response.headers.get('vary')).toContain('Origin');
    }
    const refused = await preflight(listed.url, ELSEWHERE);
    expect(refused.status).toBe(204);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('access-control-allow-headers')).toBeNull();
    expect((await postModels(listed.url, ELSEWHERE)).headers.get('access-control-allow-origin')).toBeNull();
  });
});
