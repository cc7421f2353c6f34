import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../gateway/helpers.ts';
import { readImage } from '../../helpers/fixtures.ts';

/**
 * The server stays responsive while a model computes: inference runs in a worker thread, so `/healthz` and new
 * GraphQL requests are answered before a long inference finishes. An ordering check, not a timing one.
 */
describe('event loop during inference', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    // Load the default caption variant first, so that the slow request below is all computation.
    await server.postGraphQL({ query: 'mutation($i: CaptionInput!) { caption(input: $i) { caption } }', variables: { i: { image: { base64: base64() } } } });
  });
  afterAll(async () => {
    await server?.close();
  });

  function base64(): string {
    return Buffer.from(readImage('shapes_400x300.jpg')).toString('base64');
  }

  it('answers /healthz and a models query while a long captionBatch is still computing', async () => {
    const order: string[] = [];
    // 32 items × 8 beams × 40 tokens on the default variant: long enough to be still running below.
    const inputs = Array.from({ length: 32 }, (_, k) => ({ image: { base64: base64() }, prompt: `photo ${k}`, options: { numBeams: 8, minLength: 40, maxLength: 40 } }));
    const slow = server
      .postGraphQL({ query: 'mutation($inputs: [CaptionInput!]!) { captionBatch(inputs: $inputs) { caption } }', variables: { inputs } })
      .then((result) => {
        order.push('captionBatch');
        return result;
      });
    // Give the batch time to reach the worker.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const health = await fetch(`${server.url}/healthz`).then(async (response) => {
      order.push('healthz');
      return { status: response.status, body: await response.json() };
    });
    const models = await server.postGraphQL({ query: '{ models { name state } }' }).then((result) => {
      order.push('models');
      return result;
    });
    const batch = await slow;
    expect(health).toEqual({ status: 200, body: { status: 'ok' } });
    expect(models.status).toBe(200);
    expect(batch.status).toBe(200);
    expect(batch.body.data.captionBatch).toHaveLength(32);
    expect(order).toEqual(['healthz', 'models', 'captionBatch']);
  });
});
