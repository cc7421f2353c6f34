import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadModelDocument, ModelsDocument, PinModelDocument, RescanRegistryDocument, UnloadModelDocument } from '../../generated/graphql.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const KEY = 'test-admin-key-0123456789';

describe('admin mutations', () => {
  let t: TestServer;
  let model: string;

  beforeAll(async () => {
    t = await startTestServer({ env: { ADMIN_API_KEY: KEY } });
    model = (await t.gql(ModelsDocument)).body.data!.models.find((m) => m.isDefault && m.task === 'CAPTION')!.name;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a missing or wrong x-admin-key with UNAUTHENTICATED', async () => {
    for (const headers of [{}, { 'x-admin-key': 'wrong' }, { 'x-admin-key': `${KEY}x` }] as Array<Record<string, string>>) {
      const response = await t.gql(LoadModelDocument, { name: model }, headers);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        data: null,
        errors: [{ message: 'Admin operations need a valid x-admin-key header', locations: [{ line: 2, column: 3 }], path: ['loadModel'], extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
    expect(t.events.filter((e) => e.type === 'load-started')).toEqual([]);
  });

  it('loads, pins, refuses to unload a pinned variant, unpins and unloads', async () => {
    const admin = { 'x-admin-key': KEY };
    expect((await t.gql(LoadModelDocument, { name: model }, admin)).body).toEqual({ data: { loadModel: { name: model, state: 'READY', pinned: false } } });
    expect((await t.gql(PinModelDocument, { name: model, pinned: true }, admin)).body).toEqual({ data: { pinModel: { name: model, state: 'READY', pinned: true } } });
    const refused = await t.gql(UnloadModelDocument, { name: model }, admin);
    expect(refused.body.errors?.[0]).toMatchObject({ message: `Model "${model}" is pinned; unpin it first`, extensions: { code: 'MODEL_IN_USE', model, inFlight: 0 } });
    await t.gql(PinModelDocument, { name: model, pinned: false }, admin);
    expect((await t.gql(UnloadModelDocument, { name: model }, admin)).body).toEqual({ data: { unloadModel: { name: model, state: 'UNLOADED', pinned: false } } });
    const unknown = await t.gql(LoadModelDocument, { name: 'nope' }, admin);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('MODEL_NOT_FOUND');
  });

  it('rescanRegistry picks up a new variant folder without a restart', async () => {
    const dir = join(t.registryDir, 'zz-new');
    await mkdir(dir);
    await writeFile(join(dir, 'variant.json'), JSON.stringify({ name: 'zz-new', task: 'caption', description: 'added at run time', source: { huggingFace: 'Salesforce/blip-image-captioning-large' } }));
    const response = await t.gql(RescanRegistryDocument, {}, { 'x-admin-key': KEY });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.rescanRegistry).toMatchObject({ added: ['zz-new'], removed: [], updated: [], failed: [] });
    const names = (await t.gql(ModelsDocument)).body.data!.models.map((m) => m.name);
    expect(names).toContain('zz-new');
  });
});

describe('admin mutations without ADMIN_API_KEY', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are disabled: FORBIDDEN, whatever key is sent', async () => {
    for (const headers of [{}, { 'x-admin-key': KEY }] as Array<Record<string, string>>) {
      const response = await t.gql(RescanRegistryDocument, {}, headers);
      expect(response.body.errors?.[0]).toMatchObject({ message: 'Admin operations are disabled on this server (no ADMIN_API_KEY configured)', extensions: { code: 'FORBIDDEN' } });
    }
  });
});

describe('PRELOAD_MODELS and PIN_MODELS', () => {
  let t: TestServer;
  afterAll(async () => {
    await t?.close();
  });

  it('loads the listed variants before listening, and pins the pinned ones', async () => {
    t = await startTestServer({ env: { PRELOAD_MODELS: 'blip-tiny', PIN_MODELS: 'blip-tiny' } });
    const response = await t.postGraphQL({ query: '{ model(name: "blip-tiny") { state pinned } }' });
    expect(response.body).toEqual({ data: { model: { state: 'READY', pinned: true } } });
    expect(t.events.filter((e) => e.type === 'load-finished').map((e) => (e as { variant: string }).variant)).toEqual(['blip-tiny']);
  });

  it('refuses to start when a listed variant is unknown', async () => {
    await expect(startTestServer({ env: { PRELOAD_MODELS: 'no-such-model' } })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });
});
