import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBlipConfig } from '../models/blip/checkpoint/config-reader.ts';
import type { BlipConfig } from '../models/blip/checkpoint/blip-config.ts';
import { ServiceError } from '../errors.ts';
import { downloadBlob } from './download-blob.ts';
import { RepoCache } from './hub-cache.ts';
import { HubClient, type HubAccess, type RemoteFile } from './hub-client.ts';
import { HubError, HubErrorKind } from './hub-error.ts';
import type { PullEvent } from './pull-events.ts';

/** Only what the converter reads, in its order of preference; nothing else of the repository is downloaded. */
const CONFIG = 'config.json';
const PREPROCESSOR = 'preprocessor_config.json';
const WEIGHTS = ['model.safetensors', 'pytorch_model.bin'] as const;
const TOKENIZER_MAIN = ['tokenizer.json', 'vocab.txt'] as const;
const TOKENIZER_EXTRA = ['tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'] as const;
const CANDIDATES = [CONFIG, PREPROCESSOR, ...WEIGHTS, ...TOKENIZER_MAIN, ...TOKENIZER_EXTRA];

export interface SnapshotRequest {
  repo: string;
  /** A branch, tag or commit; resolved to a commit first. */
  revision: string;
  access: HubAccess;
  cacheDir: string;
  offline: boolean;
  onEvent: (event: PullEvent) => void;
  signal?: AbortSignal;
}

export interface Snapshot {
  /** `snapshots/<commit>/` in the cache: a checkpoint folder the converter reads. */
  dir: string;
  commit: string;
  config: BlipConfig;
}

/**
 * Puts the converter's files of `repo` at `revision` into the Hugging Face cache and returns their snapshot folder.
 * The revision is resolved to its commit first and every file is fetched at that commit, so that the set is
 * consistent and `refs/<revision>` lets an offline pull find it again.
 */
export async function fetchSnapshot(request: SnapshotRequest): Promise<Snapshot> {
  const { repo, revision, onEvent } = request;
  const cache = new RepoCache(request.cacheDir, repo);
  onEvent({ type: 'resolving', repo, revision, offline: request.offline });
  if (request.offline) return cachedSnapshot(cache, request);

  const client = new HubClient(request.access, repo);
  const commit = await client.resolveCommit(revision);
  if (commit !== revision) await cache.writeRef(revision, commit);
  onEvent({ type: 'resolved', repo, revision, commit, offline: false });

  const remote = await client.files(commit, CANDIDATES);
  const config = remote.get(CONFIG);
  if (!config) throw new HubError(HubErrorKind.NOT_BLIP, `${repo}@${commit}: no ${CONFIG}, so not a transformers BLIP checkpoint`);
  const chosen = chooseFiles(remote);
  const bytesTotal = chosen.reduce((sum, file) => sum + file.size, 0);
  let bytesBefore = 0;
  const download = async (file: RemoteFile): Promise<void> => {
    const base = bytesBefore;
    const result = await downloadBlob({
      client,
      cache,
      commit,
      file,
      signal: request.signal,
      onBytes: (done) => onEvent({ type: 'download', file: file.path, fileBytes: done, fileSize: file.size, bytesDone: base + done, bytesTotal }),
      onResume: (offset) => onEvent({ type: 'resumed', file: file.path, offset }),
    });
    onEvent({ type: 'verified', file: file.path, cached: result === 'cached' });
    bytesBefore += file.size;
  };

  const files: Array<{ path: string; bytes: number; cached: boolean }> = [];
  for (const file of chosen) files.push({ path: file.path, bytes: file.size, cached: (await cache.hasFile(commit, file.path)) || (await blobPresent(cache, file)) });
  onEvent({ type: 'files', files, bytesTotal });
  // The config comes first, alone: a repository that is not BLIP is refused before anything else is looked for.
  await download(config);
  const blip = await readConfig(cache.snapshotDir(commit), repo, commit);
  requireFiles(remote, repo, commit);
  for (const file of chosen) if (file !== config) await download(file);
  return { dir: cache.snapshotDir(commit), commit, config: blip };
}

/** What the converter will read, of what the repository has (the required ones are checked by requireFiles). */
function chooseFiles(remote: Map<string, RemoteFile>): RemoteFile[] {
  const pick = (names: readonly string[]) => names.map((name) => remote.get(name)).find((file) => file !== undefined);
  const chosen = [remote.get(CONFIG), remote.get(PREPROCESSOR), pick(WEIGHTS), pick(TOKENIZER_MAIN), ...TOKENIZER_EXTRA.map((name) => remote.get(name))];
  return chosen.filter((file): file is RemoteFile => file !== undefined);
}

function requireFiles(remote: Map<string, RemoteFile>, repo: string, commit: string): void {
  for (const [names, what] of [
    [[PREPROCESSOR], PREPROCESSOR],
    [WEIGHTS, `${WEIGHTS.join(' or ')} (sharded checkpoints are not supported)`],
    [TOKENIZER_MAIN, TOKENIZER_MAIN.join(' or ')],
  ] as const) {
    if (!names.some((name) => remote.has(name))) throw new HubError(HubErrorKind.MISSING_FILE, `${repo}@${commit}: missing ${what}; the converter needs it`);
  }
}


async function cachedSnapshot(cache: RepoCache, request: SnapshotRequest): Promise<Snapshot> {
  const { repo, revision } = request;
  const commit = /^[0-9a-f]{40}$/.test(revision) ? revision : await cache.readRef(revision);
  if (commit === undefined) {
    throw new HubError(
      HubErrorKind.OFFLINE_NOT_CACHED,
      `${repo}: HF_HUB_OFFLINE=1 and revision "${revision}" was never downloaded into ${cache.dir}; pull it once online (or unset HF_HUB_OFFLINE)`,
    );
  }
  const has = async (name: string) => cache.hasFile(commit, name);
  const missing: string[] = [];
  for (const group of [[CONFIG], [PREPROCESSOR], WEIGHTS, TOKENIZER_MAIN] as const) {
    let found = false;
    for (const name of group) if (await has(name)) found = true;
    if (!found) missing.push(group.join(' or '));
  }
  if (missing.length > 0) {
    throw new HubError(
      HubErrorKind.OFFLINE_NOT_CACHED,
      `${repo}@${commit}: HF_HUB_OFFLINE=1 and the cache (${cache.snapshotDir(commit)}) lacks ${missing.join(', ')}; pull it once online`,
    );
  }
  request.onEvent({ type: 'resolved', repo, revision, commit, offline: true });
  return { dir: cache.snapshotDir(commit), commit, config: await readConfig(cache.snapshotDir(commit), repo, commit) };
}

async function readConfig(dir: string, repo: string, commit: string): Promise<BlipConfig> {
  try {
    return await readBlipConfig(dir);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    throw new HubError(HubErrorKind.NOT_BLIP, `${repo}@${commit} is not a BLIP captioning or VQA checkpoint: ${error.message.replace(join(dir, CONFIG), CONFIG)}`, {
      cause: error,
    });
  }
}

async function blobPresent(cache: RepoCache, file: RemoteFile): Promise<boolean> {
  try {
    return (await stat(cache.blob(file.etag))).size === file.size;
  } catch {
    return false;
  }
}
