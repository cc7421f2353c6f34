import { print } from 'graphql';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionBatchDocument } from '../../generated/graphql.ts';
import { base64Image, readJson, startTestServer, type TestServer } from '../gateway/helpers.ts';

/**
 * Regressions found with the hostile corpus (test/hostile/README.md, "Findings"): a huge query or a huge model name
 * once held the event loop (every other request, /healthz included) for seconds, and too many uploaded files were
 * reported as an oversized body. The stall bounds are generous: fixed, each stall is well under 100 ms.
 */
describe('known bugs found by the hostile corpus (these fail today)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(); // default limits: MAX_BODY_BYTES 32 MiB, MAX_QUERY_FIELDS 200
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses 800 000 aliased fields (≈16 MB) without blocking the event loop for more than a second', async () => {
    const query = `{ ${Array.from({ length: 800_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const response = await t.postGraphQL({ query });
    delay.disable();
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    const blockedMs = Math.round(delay.max / 1e6);
    expect(blockedMs, `longest event-loop stall while handling the request: ${blockedMs} ms`).toBeLessThan(1000);
  });

  it('refuses a 2 MB unknown model name without blocking the event loop for more than a second', async () => {
    const model = 'x'.repeat(2_000_000);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const response = await t.postGraphQL({
      query: 'mutation($input: CaptionInput!) { caption(input: $input) { caption } }',
      variables: { input: { image: { base64: base64Image('gray_33x33.png') }, model } },
    });
    delay.disable();
    expect(response.status).toBe(200);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('MODEL_NOT_FOUND');
    const blockedMs = Math.round(delay.max / 1e6);
    expect(blockedMs, `longest event-loop stall while handling the request: ${blockedMs} ms`).toBeLessThan(1000);
  });

  it('refuses a multipart captionBatch of 33 tiny files (over MAX_BATCH_ITEMS) as a client error, not as a 33 MB body', async () => {
    const png = new Uint8Array(readFileSync(fileURLToPath(new URL('../../hostile/files/1x1.png', import.meta.url))));
    const n = 33;
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: print(CaptionBatchDocument), variables: { inputs: Array.from({ length: n }, () => ({ image: { upload: null } })) } }));
    form.append('map', JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), [`variables.inputs.${i}.image.upload`]]))));
    for (let i = 0; i < n; i++) form.append(String(i), new Blob([png]), `${i}.png`);
    const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'apollo-require-preflight': 'true' }, body: form });
    const body = await readJson(response);
    // Today: 413 {"errors":[{"message":"The request body is larger than the limit of 33554432 bytes","extensions":{"code":"PAYLOAD_TOO_LARGE",...}}]}
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).not.toMatch(/larger than the limit/);
  });
});
