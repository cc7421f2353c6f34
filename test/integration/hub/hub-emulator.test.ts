import { downloadFileToCacheDir, fileDownloadInfo, listFiles, modelInfo, pathsInfo } from '@huggingface/hub';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pull } from '../../../src/hub/pull.ts';
import { createPullWorld, CAPTION_REPO } from '../../helpers/hub-cli.ts';
import { fixtureRepoFiles, startHubEmulator, type HubEmulator } from '../../helpers/hub-emulator.ts';

/**
 * The emulator checked against @huggingface/hub 2.17 itself: the library's own calls get what they expect (sizes,
 * etags, the redirect to the CDN, LFS hashes), and its downloadFileToCacheDir finds what `pull` wrote in the cache
 * (same layout as huggingface_hub: no second download).
 */
let hub: HubEmulator;
const files = fixtureRepoFiles('caption', { weights: 'safetensors' });
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  hub = await startHubEmulator([{ id: CAPTION_REPO, files }]);
});
afterAll(() => hub?.close());

describe('Hub emulator against @huggingface/hub', () => {
  it('modelInfo, listFiles and pathsInfo', async () => {
    const info = await modelInfo({ name: CAPTION_REPO, hubUrl: hub.url, additionalFields: ['sha'] });
    expect(info.sha).toBe(hub.commitOf(CAPTION_REPO));
    const listed = [];
    for await (const entry of listFiles({ repo: CAPTION_REPO, hubUrl: hub.url })) listed.push(entry.path);
    expect(listed.sort()).toEqual(Object.keys(files).sort());
    const [weights] = await pathsInfo({ repo: CAPTION_REPO, paths: ['model.safetensors', 'nope.bin'], hubUrl: hub.url, expand: true });
    expect(weights).toMatchObject({ path: 'model.safetensors', size: files['model.safetensors'].length, lfs: { oid: sha256(files['model.safetensors']) } });
    expect(weights.lastCommit.id).toBe(hub.commitOf(CAPTION_REPO));
  });

  it('fileDownloadInfo follows the resolve redirect to the CDN, whose ETag is not the sha256', async () => {
    const info = await fileDownloadInfo({ repo: CAPTION_REPO, path: 'model.safetensors', hubUrl: hub.url });
    expect(info).not.toBeNull();
    expect(info!.size).toBe(files['model.safetensors'].length);
    expect(new URL(info!.url).pathname).toMatch(/^\/cdn-lfs\//);
    expect(info!.etag).not.toContain(sha256(files['model.safetensors']));
    expect(await fileDownloadInfo({ repo: CAPTION_REPO, path: 'missing.json', hubUrl: hub.url })).toBeNull();
  });

  it("the library's downloadFileToCacheDir finds the files pull put in the cache, without downloading them again", async () => {
    const world = await createPullWorld();
    try {
      const result = await pull({ target: 'blip-base' }, { registryDir: world.registry.root, endpoint: hub.url, token: undefined, offline: false, cacheDir: world.cacheDir }, () => {});
      const before = hub.requests.length;
      const path = await downloadFileToCacheDir({ repo: CAPTION_REPO, path: 'model.safetensors', revision: result.commit, hubUrl: hub.url, cacheDir: world.cacheDir });
      expect(path).toBe(join(world.cacheDir, `models--${CAPTION_REPO.replace('/', '--')}`, 'snapshots', result.commit, 'model.safetensors'));
      expect(sha256(await readFile(path))).toBe(sha256(files['model.safetensors']));
      expect(hub.requests.length).toBe(before);
    } finally {
      await world.cleanup();
    }
  });

  it('a file the library downloads into an empty cache is the one pull would have written (same blob name)', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'hf-cache-'));
    try {
      const path = await downloadFileToCacheDir({ repo: CAPTION_REPO, path: 'model.safetensors', revision: hub.commitOf(CAPTION_REPO), hubUrl: hub.url, cacheDir });
      expect(await readlink(path)).toMatch(new RegExp(`blobs/${sha256(files['model.safetensors'])}$`));
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
