import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTION_CHECKPOINT, VQA_CHECKPOINT, readJson } from '../../helpers/fixtures.ts';
import { runCli } from '../../helpers/hub-cli.ts';
import { fixtureRepoFiles, startHubEmulator, type HubEmulator } from '../../helpers/hub-emulator.ts';
import { base64Image, startTestServer, type TestServer } from '../gateway/helpers.ts';

/**
 * Installing from the API against the Hub emulator, on the real server over a copy of the shipped registry (whose
 * official variants name the Salesforce repositories the emulator serves with the tiny fixtures): installModel runs
 * in the background while other requests are served, its progress shows in `models`, and the variant then serves
 * without a restart; AUTO_INSTALL starts an install from a request; a CLI pull in another process is taken by
 * rescanRegistry.
 */
const KEY = 'admin-key-for-install-tests';
const admin = { 'x-admin-key': KEY };
const captionCase = readJson(join(CAPTION_CHECKPOINT, 'references.json')).cases.find((c: any) => c.name === 'greedy_noprompt_0');
const vqaCase = readJson(join(VQA_CHECKPOINT, 'references.json')).cases.find((c: any) => c.name === 'single_0');
const INSTALL_FIELDS = 'name installed installCommand revision install { state phase bytesDone bytesTotal error revision }';

let hub: HubEmulator;
let t: TestServer;
let cacheDir: string;

beforeAll(async () => {
  const caption = fixtureRepoFiles('caption', { weights: 'safetensors' });
  hub = await startHubEmulator([
    { id: 'Salesforce/blip-image-captioning-base', files: caption },
    { id: 'Salesforce/blip-image-captioning-large', files: caption },
    { id: 'Salesforce/blip-vqa-base', files: fixtureRepoFiles('vqa', { weights: 'safetensors' }) },
  ]);
  cacheDir = await mkdtemp(join(tmpdir(), 'hf-cache-'));
  t = await startTestServer({ env: { ADMIN_API_KEY: KEY, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, AUTO_INSTALL: 'true' } });
});
afterAll(async () => {
  await t?.close();
  await hub?.close();
  await rm(cacheDir, { recursive: true, force: true });
});

async function modelInfo(name: string): Promise<any> {
  const response = await t.postGraphQL({ query: `query($name: String!) { model(name: $name) { ${INSTALL_FIELDS} } }`, variables: { name } });
  return response.body.data.model;
}

async function caption(model: string | undefined): Promise<any> {
  const response = await t.postGraphQL({
    query: 'mutation($input: CaptionInput!) { caption(input: $input) { caption sequence model } }',
    variables: { input: { image: { base64: base64Image(captionCase.images[0]) }, options: { maxNewTokens: captionCase.generate_kwargs.max_new_tokens }, ...(model ? { model } : {}) } },
  });
  return response.body;
}

describe('installing from the API', () => {
  it('installModel runs in the background while other requests are served; progress shows in models; then it serves', async () => {
    hub.throttle(100_000);
    try {
      const mutation = { query: `mutation { installModel(name: "blip-base") { ${INSTALL_FIELDS} } }` };
      const before = hub.requests.length;
      // Twice at once: one install.
      const [first, second] = await Promise.all([t.postGraphQL(mutation, admin), t.postGraphQL(mutation, admin)]);
      for (const response of [first, second]) {
        expect(response.body.errors).toBeUndefined();
        expect(response.body.data.installModel).toMatchObject({ name: 'blip-base', installed: false, install: { state: 'RUNNING' } });
      }

      const seen: any[] = [];
      let served = 0;
      const deadline = Date.now() + 100_000;
      for (;;) {
        const info = await modelInfo('blip-base');
        seen.push(info.install);
        if (info.install.state !== 'RUNNING') break;
        if (Date.now() > deadline) throw new Error(`the install did not finish: ${JSON.stringify(info.install)}`);
        // Other traffic is served meanwhile, by the default caption variant.
        const other = await caption(undefined);
        expect(other.errors).toBeUndefined();
        served++;
      }
      const last = seen.at(-1);
      expect(last).toMatchObject({ state: 'DONE', phase: 'DONE', error: null, revision: hub.commitOf('Salesforce/blip-image-captioning-base') });
      expect(last.bytesDone).toBe(last.bytesTotal);
      expect(served).toBeGreaterThan(0);
      const downloading = seen.filter((s) => s.phase === 'DOWNLOADING' && s.bytesDone > 0 && s.bytesDone < s.bytesTotal);
      expect(downloading.length).toBeGreaterThan(0);

      // One install: one model-info request and one download of the weights.
      const requests = hub.requests.slice(before);
      expect(requests.filter((r) => r.path.startsWith('/api/models/Salesforce/blip-image-captioning-base/revision/'))).toHaveLength(1);
      expect(requests.filter((r) => r.path.startsWith('/cdn-lfs/Salesforce/blip-image-captioning-base/') && r.range !== 'bytes=0-0')).toHaveLength(1);

      // Serves without a restart, with transformers' ids.
      expect(await modelInfo('blip-base')).toMatchObject({ installed: true, revision: hub.commitOf('Salesforce/blip-image-captioning-base'), installCommand: null });
      const result = await caption('blip-base');
      expect(result.errors).toBeUndefined();
      expect(result.data.caption).toMatchObject({ model: 'blip-base', sequence: captionCase.output_ids[0], caption: captionCase.output_text[0] });
    } finally {
      hub.throttle(0);
    }
  }, 180_000);

  it('AUTO_INSTALL: a request for a listed, not installed variant starts its install and gets MODEL_NOT_INSTALLED with retryAfterMs and progress', async () => {
    const refused = await caption('blip-large');
    expect(refused.errors).toHaveLength(1);
    const { extensions, message } = refused.errors[0];
    expect(extensions).toMatchObject({ code: 'MODEL_NOT_INSTALLED', model: 'blip-large', installCommand: 'npx blip-gateway pull blip-large', install: { state: 'RUNNING' } });
    expect(extensions.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(message).toMatch(/^Model "blip-large" is not installed; it is being installed now \(/);
    const deadline = Date.now() + 100_000;
    for (;;) {
      const result = await caption('blip-large');
      if (!result.errors) {
        expect(result.data.caption.sequence).toEqual(captionCase.output_ids[0]);
        break;
      }
      expect(result.errors[0].extensions.code).toBe('MODEL_NOT_INSTALLED');
      if (Date.now() > deadline) throw new Error(`still not installed: ${JSON.stringify(result.errors[0])}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // One install for all those requests.
    expect(hub.requests.filter((r) => r.path.startsWith('/api/models/Salesforce/blip-image-captioning-large/revision/'))).toHaveLength(1);
  }, 180_000);

  it('AUTO_INSTALL: a failed install shows in Model.install, and requests do not restart it at once', async () => {
    // The emulator has no such repository: without a token the Hub (and the emulator) answers 401.
    const question = (model: string) =>
      t.postGraphQL({
        query: 'mutation($input: AnswerInput!) { answer(input: $input) { sequence } }',
        variables: { input: { model, image: { base64: base64Image(vqaCase.images[0]) }, question: vqaCase.questions[0] } },
      });
    const first = await question('blip-vqa-capfilt-large');
    expect(first.body.errors[0].extensions).toMatchObject({ code: 'MODEL_NOT_INSTALLED', install: { state: 'RUNNING' } });
    const deadline = Date.now() + 60_000;
    let install = (await modelInfo('blip-vqa-capfilt-large')).install;
    while (install.state === 'RUNNING') {
      if (Date.now() > deadline) throw new Error('the install did not fail in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
      install = (await modelInfo('blip-vqa-capfilt-large')).install;
    }
    expect(install).toMatchObject({ state: 'FAILED', phase: 'FAILED', bytesDone: 0 });
    expect(install.error).toBe('UNAUTHORIZED: Salesforce/blip-vqa-capfilt-large: not found, or private: set HF_TOKEN (the Hub answers 401 for both without a token)');
    const again = await question('blip-vqa-capfilt-large');
    const { extensions, message } = again.body.errors[0];
    expect(message).toBe('Model "blip-vqa-capfilt-large" is not installed; its install failed (UNAUTHORIZED); it is tried again after 30 s; try again later');
    expect(extensions).toMatchObject({ code: 'MODEL_NOT_INSTALLED', install: { state: 'FAILED', error: 'UNAUTHORIZED' } });
    expect(extensions.retryAfterMs).toBeGreaterThan(1000);
    expect(hub.requests.filter((r) => r.path.startsWith('/api/models/Salesforce/blip-vqa-capfilt-large/'))).toHaveLength(1);
  }, 120_000);

  it('a pull run by the CLI in another process is taken by rescanRegistry', async () => {
    expect(await modelInfo('blip-vqa-base')).toMatchObject({ installed: false, installCommand: 'npx blip-gateway pull blip-vqa-base', install: null });
    const pulled = await runCli(['pull', 'blip-vqa-base'], { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, REGISTRY_DIR: t.registryDir });
    expect(pulled.code).toBe(0);
    expect((await modelInfo('blip-vqa-base')).installed).toBe(false);
    const rescan = await t.postGraphQL({ query: 'mutation { rescanRegistry { updated } }' }, admin);
    expect(rescan.body.data.rescanRegistry.updated).toContain('blip-vqa-base');
    expect((await modelInfo('blip-vqa-base')).installed).toBe(true);
    const answer = await t.postGraphQL({
      query: 'mutation($input: AnswerInput!) { answer(input: $input) { sequence } }',
      variables: { input: { model: 'blip-vqa-base', image: { base64: base64Image(vqaCase.images[0]) }, question: vqaCase.questions[0], options: { maxNewTokens: 8 } } },
    });
    expect(answer.body.data.answer.sequence).toEqual(vqaCase.answer_ids[0]);
  }, 180_000);

  it('installModel refuses what it cannot install, with stable codes', async () => {
    const cases: Array<[string, string]> = [
      ['mutation { installModel(name: "blip-bsae") { name } }', 'MODEL_NOT_FOUND'],
      ['mutation { installModel(name: "blip-demo") { name } }', 'BAD_USER_INPUT'],
      ['mutation { installModel(name: "blip-base", precision: INT8) { name } }', 'BAD_USER_INPUT'],
    ];
    for (const [query, code] of cases) {
      const response = await t.postGraphQL({ query }, admin);
      expect(response.body.errors[0].extensions.code).toBe(code);
    }
    const anonymous = await t.postGraphQL({ query: 'mutation { installModel(name: "blip-base") { name } }' });
    expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});
