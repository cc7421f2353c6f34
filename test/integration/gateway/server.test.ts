import { getIntrospectionQuery } from 'graphql';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionDocument, ModelDocument, ModelsDocument, type ModelFieldsFragment } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from './helpers.ts';

describe('the server: lazy loading, health, landing page, graceful shutdown', () => {
  let t: TestServer;
  let closed = false;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    if (!closed) await t?.close();
  });

  it('loads a variant on first use only; two concurrent first calls share one load', async () => {
    const models = (await t.gql(ModelsDocument)).body.data!.models;
    expect(models.map((m) => m.state)).toEqual(models.map(() => 'UNLOADED'));
    const model = models.find((m) => m.isDefault && m.task === 'CAPTION') as ModelFieldsFragment;
    const other = models.find((m) => m.isDefault && m.task === 'VQA') as ModelFieldsFragment;

    const input = { image: { base64: base64Image('gradient_64x48.png') }, model: model.name };
    const calls = [t.gql(CaptionDocument, { input }), t.gql(CaptionDocument, { input })];
    // While the worker starts, the variant reports LOADING.
    while (!t.events.some((e) => e.type === 'load-started')) await sleep(5);
    expect((await t.gql(ModelDocument, { name: model.name })).body.data?.model?.state).toBe('LOADING');

    const [first, second] = await Promise.all(calls);
    expect(first.body.errors).toBeUndefined();
    expect(second.body).toEqual({ data: { caption: { ...first.body.data!.caption, batchSize: expect.any(Number), timings: expect.any(Object) } } });
    expect(t.events.filter((e) => e.type.startsWith('load-'))).toEqual([
      { type: 'load-started', variant: model.name },
      { type: 'load-finished', variant: model.name, durationMs: expect.any(Number) },
    ]);
    expect((await t.gql(ModelDocument, { name: model.name })).body.data?.model?.state).toBe('READY');
    expect((await t.gql(ModelDocument, { name: other.name })).body.data?.model?.state).toBe('UNLOADED');
  });

  it('GET /healthz', async () => {
    const response = await fetch(`${t.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves the Apollo Sandbox landing page on GET /graphql and allows introspection outside production', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('embeddable-sandbox');
    const introspection = await t.postGraphQL({ query: getIntrospectionQuery() });
    expect(introspection.status).toBe(200);
    expect(introspection.body.data.__schema.mutationType).toMatchObject({ name: 'Mutation' });
  });

  it('close() lets a request in flight finish, then refuses connections', async () => {
    const inFlight = t.gql(CaptionDocument, { input: { image: { base64: base64Image('shapes_400x300.jpg') }, options: { numBeams: 4 } } });
    await sleep(20);
    const closing = t.close();
    closed = true;
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.body.data?.caption.caption).toEqual(expect.any(String));
    await closing;
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  });
});
