import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CAPTION_CHECKPOINT, IMAGES, VQA_CHECKPOINT, readJson } from '../../helpers/fixtures.ts';
import { CAPTION_REPO, CLI, VQA_REPO, createPullWorld, runCli, runProgram, type PullWorld } from '../../helpers/hub-cli.ts';
import { fixtureRepoFiles, startHubEmulator, type HubEmulator } from '../../helpers/hub-emulator.ts';

/**
 * `blip-gateway pull` against the Hub emulator, each run in its own process as a user runs it: download into the
 * Hugging Face cache layout at the resolved commit, verification, resume, errors with their exit codes, offline mode,
 * then `caption`/`answer` on the converted variant give transformers' reference ids.
 */
const TOKEN = 'hf_emulatortoken0123456789';
const captionCase = readJson(join(CAPTION_CHECKPOINT, 'references.json')).cases.find((c: any) => c.name === 'greedy_noprompt_0');
const vqaCase = readJson(join(VQA_CHECKPOINT, 'references.json')).cases.find((c: any) => c.name === 'single_0');
const cacheRepo = (world: PullWorld, repo: string) => join(world.cacheDir, `models--${repo.replace('/', '--')}`);
const cdnGets = (hub: HubEmulator, since = 0) => hub.requests.slice(since).filter((r) => r.method === 'GET' && r.path.startsWith('/cdn-lfs/') && r.range !== 'bytes=0-0');

let hub: HubEmulator;
let world: PullWorld;

beforeAll(async () => {
  hub = await startHubEmulator(
    [
      { id: CAPTION_REPO, files: fixtureRepoFiles('caption', { weights: 'safetensors' }) },
      // Only pytorch_model.bin, as on blip-vqa-capfilt-large's main branch: the fallback is taken.
      { id: VQA_REPO, files: fixtureRepoFiles('vqa', { weights: 'pytorch' }) },
      { id: 'acme/private-blip', files: fixtureRepoFiles('caption', { weights: 'safetensors' }), private: true },
    ],
    { token: TOKEN },
  );
});
afterAll(() => hub?.close());
beforeEach(async () => {
  world = await createPullWorld();
  hub.clearFaults();
  hub.throttle(0);
});
afterEach(() => world.cleanup());

async function captionIds(dir: string): Promise<number[]> {
  const result = await runCli(['caption', dir, join(IMAGES, captionCase.images[0]), '--json', '--max-new-tokens', String(captionCase.generate_kwargs.max_new_tokens)], {});
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout).sequence;
}

// Each test runs the CLI several times in fresh processes: minutes on a busy 2-core machine.
describe('pull from the Hub emulator', { timeout: 240_000 }, () => {
  it('pulls a registry variant at the resolved commit into the HF cache layout, converts it, and it captions with the reference ids', async () => {
    const result = await runCli(['pull', 'blip-base'], world.env(hub.url));
    expect(result.stderr).not.toMatch(/blip-gateway: /);
    expect(result.code).toBe(0);
    // Not a terminal: plain lines, no carriage returns.
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).toContain('model.safetensors: checksum ok');
    const commit = hub.commitOf(CAPTION_REPO);
    expect(result.stdout).toContain(`installed blip-base (caption) from ${CAPTION_REPO}@${commit}`);

    // The HF layout: refs/main names the commit; snapshot files are relative links to blobs named by LFS sha256 or git oid.
    const repoDir = cacheRepo(world, CAPTION_REPO);
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit);
    const weightsLink = join(repoDir, 'snapshots', commit, 'model.safetensors');
    const sha256 = readFileSync(join(repoDir, 'snapshots', commit, 'model.safetensors')).length > 0 && readlinkSync(weightsLink);
    expect(sha256).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(readdirSync(join(repoDir, 'snapshots', commit)).sort()).toEqual(
      ['added_tokens.json', 'config.json', 'model.safetensors', 'preprocessor_config.json', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt'].sort(),
    );

    // Every file was fetched at the commit, never at "main" (which could move between two files).
    const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBeGreaterThan(0);
    expect(resolves.every((r) => r.path.includes(`/resolve/${commit}/`))).toBe(true);
    expect(hub.requests.some((r) => r.method === 'POST' && r.path === `/api/models/${CAPTION_REPO}/paths-info/${commit}`)).toBe(true);

    const dir = join(world.registry.root, 'blip-base');
    const manifest = readJson(join(dir, 'manifest.json'));
    expect(manifest.source).toMatchObject({ huggingFace: CAPTION_REPO, revision: commit, weightsFile: 'model.safetensors' });
    expect(await captionIds(dir)).toEqual(captionCase.output_ids[0]);

    // A second pull downloads nothing: every file is in the cache (verified again, not fetched).
    const before = hub.requests.length;
    const again = await runCli(['pull', 'blip-base'], world.env(hub.url));
    expect(again.code).toBe(0);
    expect(cdnGets(hub, before)).toEqual([]);
  });

  it('pulls a repository id as a new variant with --name (pytorch_model.bin fallback, VQA task from the checkpoint), and it answers with the reference ids', async () => {
    const result = await runCli(['pull', VQA_REPO, '--name', 'my-vqa'], world.env(hub.url));
    expect(result.code).toBe(0);
    const dir = join(world.registry.root, 'my-vqa');
    expect(readJson(join(dir, 'variant.json'))).toMatchObject({ name: 'my-vqa', task: 'vqa', source: { huggingFace: VQA_REPO } });
    expect(readJson(join(dir, 'manifest.json')).source).toMatchObject({ weightsFile: 'pytorch_model.bin', revision: hub.commitOf(VQA_REPO) });
    const answer = await runCli(['answer', dir, join(IMAGES, vqaCase.images[0]), vqaCase.questions[0], '--json', '--max-new-tokens', '8'], {});
    expect(JSON.parse(answer.stdout).sequence).toEqual(vqaCase.answer_ids[0]);

    const list = await runCli(['list', '--json'], world.env(hub.url));
    const rows = JSON.parse(list.stdout);
    expect(rows.find((r: any) => r.name === 'my-vqa')).toMatchObject({ task: 'vqa', status: 'installed', precision: 'fp32', revision: hub.commitOf(VQA_REPO), source: VQA_REPO });
    expect(rows.find((r: any) => r.name === 'my-vqa').bytes).toBeGreaterThan(100_000);
    expect(rows.find((r: any) => r.name === 'blip-base')).toMatchObject({ status: 'absent', precision: null, revision: null, bytes: null });
    // A variant the pull created goes entirely.
    const removed = await runCli(['remove', 'my-vqa'], world.env(hub.url));
    expect(removed.code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('--precision int8 with --name converts the same download to int8 weights: variant.json and manifest say so, list shows it', async () => {
    const result = await runCli(['pull', VQA_REPO, '--name', 'my-vqa-int8', '--precision', 'int8'], world.env(hub.url));
    expect(result.code).toBe(0);
    const dir = join(world.registry.root, 'my-vqa-int8');
    expect(readJson(join(dir, 'variant.json'))).toMatchObject({ name: 'my-vqa-int8', task: 'vqa', precision: 'int8' });
    expect(readJson(join(dir, 'manifest.json'))).toMatchObject({ precision: 'int8', source: { revision: hub.commitOf(VQA_REPO) } });
    const answer = await runCli(['answer', dir, join(IMAGES, vqaCase.images[0]), vqaCase.questions[0], '--json', '--max-new-tokens', '8'], {});
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.stdout).sequence.length).toBeGreaterThan(1);
    const rows = JSON.parse((await runCli(['list', '--json'], world.env(hub.url))).stdout);
    expect(rows.find((r: any) => r.name === 'my-vqa-int8')).toMatchObject({ status: 'installed', precision: 'int8' });
    expect((await runCli(['remove', 'my-vqa-int8'], world.env(hub.url))).code).toBe(0);
  });

  it('resumes a download whose connection was cut, with a Range request from where it stopped', async () => {
    // Cut every response: the pull gives up after its retries, keeps the partial file and says how to resume.
    hub.fault({ repo: CAPTION_REPO, path: 'model.safetensors', cutAfterBytes: 100_000, times: 100 });
    const failed = await runCli(['pull', 'blip-base'], world.env(hub.url));
    expect(failed.code).toBe(7);
    expect(failed.stderr).toMatch(/blip-gateway: NETWORK: Salesforce\/blip-image-captioning-base: the connection broke while downloading model\.safetensors .*run the same pull again to resume/);
    const blobs = join(cacheRepo(world, CAPTION_REPO), 'blobs');
    const partial = readdirSync(blobs).find((name) => name.endsWith('.incomplete'));
    expect(partial).toBeDefined();
    const kept = statSync(join(blobs, partial!)).size;
    expect(kept).toBeGreaterThan(0);
    expect(existsSync(join(world.registry.root, 'blip-base', 'manifest.json'))).toBe(false);

    hub.clearFaults();
    const before = hub.requests.length;
    const resumed = await runCli(['pull', 'blip-base', '--json'], world.env(hub.url));
    expect(resumed.code).toBe(0);
    const gets = cdnGets(hub, before);
    expect(gets).toHaveLength(1);
    const start = Number(/^bytes=(\d+)-/.exec(gets[0].range ?? '')?.[1]);
    expect(start).toBe(kept);
    expect(start).toBeGreaterThan(0);
    const events = resumed.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events).toContainEqual({ type: 'resumed', file: 'model.safetensors', offset: kept });
    expect(await captionIds(join(world.registry.root, 'blip-base'))).toEqual(captionCase.output_ids[0]);
  });

  it('a single reset within a pull is retried from where it stopped, and the pull succeeds', async () => {
    hub.fault({ repo: CAPTION_REPO, path: 'model.safetensors', cutAfterBytes: 50_000, times: 1 });
    const before = hub.requests.length;
    const result = await runCli(['pull', 'blip-base'], world.env(hub.url));
    expect(result.code).toBe(0);
    const ranges = cdnGets(hub, before).map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(Number(/^bytes=(\d+)-/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('detects a corrupted file by its sha256, deletes it and installs nothing', async () => {
    hub.fault({ repo: CAPTION_REPO, path: 'model.safetensors', corrupt: true });
    const result = await runCli(['pull', 'blip-base'], world.env(hub.url));
    expect(result.code).toBe(9);
    expect(result.stderr).toMatch(/CHECKSUM_MISMATCH: Salesforce\/blip-image-captioning-base: model\.safetensors downloaded has sha256 [0-9a-f]{64} but the Hub lists [0-9a-f]{64}/);
    const blobs = join(cacheRepo(world, CAPTION_REPO), 'blobs');
    expect(readdirSync(blobs).filter((name) => /^[0-9a-f]{64}/.test(name))).toEqual([]);
    expect(existsSync(join(world.registry.root, 'blip-base', 'manifest.json'))).toBe(false);
  });

  it('a private repository: 401 without a token says "not found, or private: set HF_TOKEN"; HF_TOKEN succeeds; a wrong token is named', async () => {
    const anonymous = await runCli(['pull', 'acme/private-blip', '--name', 'private'], world.env(hub.url));
    expect(anonymous.code).toBe(4);
    expect(anonymous.stderr).toContain('blip-gateway: UNAUTHORIZED: acme/private-blip: not found, or private: set HF_TOKEN');

    const wrong = await runCli(['pull', 'acme/private-blip', '--name', 'private'], world.env(hub.url, { HF_TOKEN: 'hf_wrong' }));
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain('HF_TOKEN was refused (401)');

    const before = hub.requests.length;
    const authorized = await runCli(['pull', 'acme/private-blip', '--name', 'private'], world.env(hub.url, { HF_TOKEN: TOKEN }));
    expect(authorized.code).toBe(0);
    expect(hub.requests.slice(before).filter((r) => r.path.startsWith('/api/') || r.path.includes('/resolve/')).every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(await captionIds(join(world.registry.root, 'private'))).toEqual(captionCase.output_ids[0]);
  });

  it('HF_HUB_OFFLINE=1 converts from the cache without a single request, and says what is missing with an empty cache', async () => {
    expect((await runCli(['pull', 'blip-base'], world.env(hub.url))).code).toBe(0);
    expect((await runCli(['remove', 'blip-base'], world.env(hub.url))).code).toBe(0);
    // A shipped variant keeps its variant.json and nothing else.
    expect(readdirSync(join(world.registry.root, 'blip-base'))).toEqual(['variant.json']);

    const before = hub.requests.length;
    const offline = await runCli(['pull', 'blip-base'], world.env(hub.url, { HF_HUB_OFFLINE: '1' }));
    expect(offline.code).toBe(0);
    expect(hub.requests.length).toBe(before);
    expect(await captionIds(join(world.registry.root, 'blip-base'))).toEqual(captionCase.output_ids[0]);

    const empty = await runCli(['pull', 'blip-vqa-base'], world.env(hub.url, { HF_HUB_OFFLINE: '1' }));
    expect(empty.code).toBe(10);
    expect(empty.stderr).toContain(`OFFLINE_NOT_CACHED: ${VQA_REPO}: HF_HUB_OFFLINE=1 and revision "main" was never downloaded into ${cacheRepo(world, VQA_REPO)}`);
    expect(hub.requests.length).toBe(before);
  });

  it('draws a progress bar with bytes, rate and ETA on a pseudo-terminal', async () => {
    hub.throttle(150_000);
    const env = world.env(hub.url);
    const command = [process.execPath, CLI, 'pull', 'blip-base'].map((word) => `'${word}'`).join(' ');
    // util-linux script(1) runs the command on a pseudo-terminal; -e returns its exit code.
    const result = await runProgram('script', ['-qec', command, '/dev/null'], env);
    expect(result.code).toBe(0);
    const bars = result.stdout.split('\r\x1b[K').filter((part) => part.startsWith('['));
    expect(bars.length).toBeGreaterThan(3);
    expect(bars.some((bar) => /^\[[#-]{24}\] +\d+% [\d.]+ kB\/[\d.]+ kB [\d.]+ kB\/s ETA \d+s model\.safetensors/.test(bar))).toBe(true);
    expect(result.stdout).toContain(`installed blip-base (caption) from ${CAPTION_REPO}@${hub.commitOf(CAPTION_REPO)}`);
  });

  it('--json prints one event per line, ending with "installed"', async () => {
    const result = await runCli(['pull', 'blip-base', '--json'], world.env(hub.url));
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const types = new Set(events.map((e) => e.type));
    for (const type of ['resolving', 'resolved', 'files', 'download', 'verified', 'converting', 'installed']) expect(types).toContain(type);
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'installed', name: 'blip-base', commit: hub.commitOf(CAPTION_REPO), task: 'caption' });
    const download = events.filter((e) => e.type === 'download').at(-1);
    expect(download.bytesDone).toBe(download.bytesTotal);
  });

  it('--json reports a failure as an error event with its kind and exit code', async () => {
    const result = await runCli(['pull', 'blip-base', '--revision', 'nope', '--json'], world.env(hub.url));
    expect(result.code).toBe(3);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.at(-1)).toMatchObject({ type: 'error', kind: 'NOT_FOUND', exitCode: 3, resumable: false });
  });
});
