import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../../../src/hub/hub-error.ts';
import { pull, type PullRequest } from '../../../src/hub/pull.ts';
import type { PullEvent } from '../../../src/hub/pull-events.ts';
import { CAPTION_REPO, createPullWorld, type PullWorld } from '../../helpers/hub-cli.ts';
import { fixtureRepoFiles, startHubEmulator, type HubEmulator } from '../../helpers/hub-emulator.ts';

/**
 * Every way a pull fails, in-process against the Hub emulator: the error kind, its exit code and a message naming the
 * repository (and file). The CLI maps the kind to the exit code (pull.test.ts checks that in real processes).
 */
const TOKEN = 'hf_emulatortoken0123456789';
let hub: HubEmulator;
let world: PullWorld;

beforeAll(async () => {
  const caption = fixtureRepoFiles('caption', { weights: 'safetensors' });
  hub = await startHubEmulator(
    [
      { id: CAPTION_REPO, files: caption },
      { id: 'acme/gated-blip', files: caption, gated: true },
      { id: 'acme/tagged-blip', files: caption, tags: ['v1.0'] },
      { id: 'acme/bert', files: { 'config.json': Buffer.from(JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] })), 'model.safetensors': Buffer.alloc(4096, 1) } },
      { id: 'acme/no-preprocessor', files: Object.fromEntries(Object.entries(caption).filter(([name]) => name !== 'preprocessor_config.json')) },
      { id: 'acme/no-config', files: { 'model.safetensors': caption['model.safetensors'] } },
    ],
    { token: TOKEN },
  );
});
afterAll(() => hub?.close());
beforeEach(async () => {
  world = await createPullWorld();
});
afterEach(() => world.cleanup());

function run(request: PullRequest, options: { token?: string; offline?: boolean } = {}, events: PullEvent[] = []) {
  return pull(request, { registryDir: world.registry.root, endpoint: hub.url, token: options.token, offline: options.offline ?? false, cacheDir: world.cacheDir }, (e) => events.push(e));
}

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => new Error('the pull succeeded'),
    (e: unknown) => e,
  );
  if (!(error instanceof HubError)) throw error;
  return error;
}

describe('pull failures', () => {
  it.each([
    ['an unknown repository, with a token', { target: 'acme/missing', name: 'x' }, TOKEN, 'NOT_FOUND', 3, /^acme\/missing: repository not found on http/],
    ['an unknown repository, without a token (the Hub says 401)', { target: 'acme/missing', name: 'x' }, undefined, 'UNAUTHORIZED', 4, /^acme\/missing: not found, or private: set HF_TOKEN/],
    ['an unknown revision', { target: 'blip-base', revision: 'nope' }, undefined, 'NOT_FOUND', 3, /^Salesforce\/blip-image-captioning-base: unknown revision "nope"/],
    ['a gated repository', { target: 'acme/gated-blip', name: 'g' }, TOKEN, 'UNAUTHORIZED', 4, /^acme\/gated-blip: access denied \(403\).*accept its conditions/],
    ['a repository that is not BLIP', { target: 'acme/bert', name: 'bert' }, undefined, 'NOT_BLIP', 5, /^acme\/bert@[0-9a-f]{40} is not a BLIP captioning or VQA checkpoint: config\.json: Expected "blip" for model_type but received "bert"/],
    ['a repository without config.json', { target: 'acme/no-config', name: 'nc' }, undefined, 'NOT_BLIP', 5, /^acme\/no-config@[0-9a-f]{40}: no config\.json/],
    ['a missing file', { target: 'acme/no-preprocessor', name: 'np' }, undefined, 'MISSING_FILE', 6, /^acme\/no-preprocessor@[0-9a-f]{40}: missing preprocessor_config\.json; the converter needs it/],
    ['an unknown variant', { target: 'blip-bsae' }, undefined, 'USAGE', 2, /^Unknown variant "blip-bsae" \(closest: blip-base/],
    ['a repository id without --name', { target: 'acme/bert' }, undefined, 'USAGE', 2, /^acme\/bert is not a registry variant: add --name NAME/],
    ['the other precision of a registry variant', { target: 'blip-base', precision: 'int8' }, undefined, 'USAGE', 2, /^"blip-base" is a fp32 variant; pull its int8 twin/],
    ['a name taken by another variant', { target: 'acme/tagged-blip', name: 'blip-base' }, undefined, 'USAGE', 2, /^--name blip-base is taken by variant "blip-base" \(from Salesforce\/blip-image-captioning-base\)/],
  ] as const)('%s', async (_what, request, token, kind, exitCode, message) => {
    const error = await failure(run(request as PullRequest, { token }));
    expect(error.kind).toBe(kind);
    expect(error.exitCode).toBe(exitCode);
    expect(error.message).toMatch(message);
  });

  it('a network failure before any byte (nothing listening) is NETWORK and resumable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(pull({ target: 'blip-base' }, { registryDir: world.registry.root, endpoint, token: undefined, offline: false, cacheDir: world.cacheDir }, () => {}));
    expect(error).toMatchObject({ kind: 'NETWORK', resumable: true });
    expect(error.message).toMatch(/^Salesforce\/blip-image-captioning-base: network failure on revision "main" at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); run the same pull again to resume$/);
  });

  it('a full disk while downloading is DISK_FULL, naming the file (the partial file is /dev/full, which fails every write with ENOSPC)', async () => {
    const weights = fixtureRepoFiles('caption', { weights: 'safetensors' })['model.safetensors'];
    const blobs = join(world.cacheDir, 'models--Salesforce--blip-image-captioning-base', 'blobs');
    await mkdir(blobs, { recursive: true });
    await symlink('/dev/full', join(blobs, `${createHash('sha256').update(weights).digest('hex')}.incomplete`));
    const error = await failure(run({ target: 'blip-base' }));
    expect(error).toMatchObject({ kind: 'DISK_FULL', exitCode: 8, resumable: true });
    expect(error.message).toMatch(/^Salesforce\/blip-image-captioning-base: model\.safetensors: the disk is full writing .*\.incomplete; free some space and run the same pull again \(it resumes\)$/);
  });

  it('refuses a repository that is not BLIP before looking at its weights, and leaves no folder', async () => {
    const before = hub.requests.length;
    expect((await failure(run({ target: 'acme/bert', name: 'bert' }))).kind).toBe('NOT_BLIP');
    expect(hub.requests.slice(before).some((r) => r.path.startsWith('/cdn-lfs/') || r.path.endsWith('/model.safetensors'))).toBe(false);
    expect(existsSync(join(world.registry.root, 'bert'))).toBe(false);
  });

  it('a tag resolves to its commit before any file is fetched, and refs/<tag> records it', async () => {
    const events: PullEvent[] = [];
    const result = await run({ target: 'acme/tagged-blip', name: 'tagged', revision: 'v1.0' }, {}, events);
    const commit = hub.commitOf('acme/tagged-blip');
    expect(result).toMatchObject({ name: 'tagged', commit, task: 'caption' });
    expect(events).toContainEqual({ type: 'resolved', repo: 'acme/tagged-blip', revision: 'v1.0', commit, offline: false });
    expect(readFileSync(join(world.cacheDir, 'models--acme--tagged-blip', 'refs', 'v1.0'), 'utf8')).toBe(commit);
  });

  it('pulling a variant already installed at that commit converts nothing', async () => {
    await run({ target: 'blip-base' });
    const manifest = readFileSync(join(world.registry.root, 'blip-base', 'manifest.json'), 'utf8');
    const events: PullEvent[] = [];
    await run({ target: 'blip-base' }, {}, events);
    expect(events.filter((e) => e.type === 'converting')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'installed', name: 'blip-base', commit: hub.commitOf(CAPTION_REPO) });
    expect(readFileSync(join(world.registry.root, 'blip-base', 'manifest.json'), 'utf8')).toBe(manifest);
  });

  it('a retry with the same --name replaces the partial folder a failed pull left', async () => {
    await mkdir(join(world.registry.root, 'tagged'), { recursive: true });
    await writeFile(join(world.registry.root, 'tagged', 'vision_model.onnx.data'), 'half a file');
    await run({ target: 'acme/tagged-blip', name: 'tagged' });
    expect(JSON.parse(readFileSync(join(world.registry.root, 'tagged', 'variant.json'), 'utf8'))).toMatchObject({ name: 'tagged', task: 'caption' });
    expect(readFileSync(join(world.registry.root, 'tagged', 'vision_model.onnx.data')).length).toBeGreaterThan(1000);
  });
});
