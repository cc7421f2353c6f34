import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, statfs, truncate, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RepoCache } from './hub-cache.ts';
import type { HubClient, RemoteFile } from './hub-client.ts';
import { HubError, HubErrorKind } from './hub-error.ts';

/** Connection resets within one pull are retried from where they stopped, this many times, before giving up. */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 250;

export interface BlobDownload {
  client: HubClient;
  cache: RepoCache;
  commit: string;
  file: RemoteFile;
  /** Called with the bytes of the file present so far (counting a resumed prefix). */
  onBytes: (done: number) => void;
  /** Called once when bytes are fetched from `offset` > 0 (a resumed download). */
  onResume?: (offset: number) => void;
  signal?: AbortSignal;
}

/**
 * Makes `snapshots/<commit>/<path>` hold the verified file: reuses a cached blob, else downloads into
 * `blobs/<etag>.incomplete`, continuing a partial one with a Range request, checks its hash, and renames it into
 * place. Returns whether anything was downloaded.
 */
export async function downloadBlob(job: BlobDownload): Promise<'cached' | 'downloaded'> {
  const { cache, commit, file } = job;
  const blob = cache.blob(file.etag);
  if ((await sizeOf(blob)) === file.size) {
    // Files a Python user put there were not checked by anyone: check them as our own.
    await verify(blob, file, cache.repo, false);
    await cache.link(commit, file.path, file.etag);
    job.onBytes(file.size);
    return 'cached';
  }
  await mkdir(dirname(blob), { recursive: true });
  const partial = `${blob}.incomplete`;
  for (let attempt = 1; ; attempt++) {
    let offset = (await sizeOf(partial)) ?? 0;
    if (offset > file.size) {
      await truncate(partial, 0);
      offset = 0;
    }
    if (offset < file.size) {
      await requireSpace(dirname(blob), file.size - offset, `${cache.repo}: ${file.path}`);
      try {
        await fetchInto(job, partial, offset);
      } catch (error) {
        const failure = error instanceof HubError ? error : job.client.explain(error, file.path);
        if (failure.kind !== HubErrorKind.NETWORK || attempt >= ATTEMPTS || job.signal?.aborted) throw failure;
        await sleep(RETRY_DELAY_MS * attempt);
        continue;
      }
    }
    break;
  }
  await verify(partial, file, cache.repo, true);
  await rename(partial, blob);
  await cache.link(commit, file.path, file.etag);
  return 'downloaded';
}

async function fetchInto(job: BlobDownload, partial: string, offset: number): Promise<void> {
  const { file, cache } = job;
  job.onBytes(offset);
  if (offset > 0) job.onResume?.(offset);
  const stream = await job.client.open(job.commit, file, offset, job.signal);
  const handle = await open(partial, 'a');
  let done = offset;
  try {
    const reader = stream.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new HubError(
          HubErrorKind.NETWORK,
          `${cache.repo}: the connection broke while downloading ${file.path} (${done} of ${file.size} bytes kept in ${partial}; ${reasonOf(error)}); run the same pull again to resume`,
          { cause: error, resumable: true },
        );
      }
      if (chunk.done) break;
      try {
        await handle.write(chunk.value);
      } catch (error) {
        throw writeError(error, partial, `${cache.repo}: ${file.path}`);
      }
      done += chunk.value.byteLength;
      job.onBytes(done);
    }
  } finally {
    await handle.close();
  }
  if (done !== file.size) {
    throw new HubError(HubErrorKind.NETWORK, `${cache.repo}: ${file.path} ended after ${done} of ${file.size} bytes; run the same pull again to resume`, {
      resumable: true,
    });
  }
}

/** LFS files against their sha256, the others against their git blob id (sha1 of "blob <size>\0" + contents). */
async function verify(path: string, file: RemoteFile, repo: string, downloaded: boolean): Promise<void> {
  const hash = file.sha256 ? createHash('sha256') : createHash('sha1').update(`blob ${file.size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  const expected = file.sha256 ?? file.gitOid;
  if (actual === expected) return;
  await unlink(path).catch(() => {});
  throw new HubError(
    HubErrorKind.CHECKSUM_MISMATCH,
    `${repo}: ${file.path} ${downloaded ? 'downloaded' : 'in the cache'} has ${file.sha256 ? 'sha256' : 'git blob id'} ${actual} but the Hub lists ${expected}; the file was deleted, run the same pull again`,
  );
}

/** Refuses early when the file system cannot hold what is left to download. */
async function requireSpace(dir: string, bytes: number, what: string): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) {
    throw new HubError(HubErrorKind.DISK_FULL, `${what}: ${bytes} bytes to download but only ${free} free in ${dir}; free some space (or set HF_HUB_CACHE elsewhere)`);
  }
}

export function writeError(error: unknown, path: string, what: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new HubError(HubErrorKind.DISK_FULL, `${what}: the disk is full writing ${path}; free some space and run the same pull again (it resumes)`, {
      cause: error,
      resumable: true,
    });
  }
  return error as Error;
}

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error instanceof Error ? error.message : String(error));
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
