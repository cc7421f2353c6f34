import { lstat, mkdir, readFile, readlink, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/**
 * One repository in Hugging Face's cache layout, the one `huggingface_hub` (Python) and transformers.js share:
 *
 *   <cacheDir>/models--<org>--<name>/
 *     blobs/<etag>                     file contents, named by the LFS sha256 or the git blob id
 *     blobs/<etag>.incomplete          a download in progress (resumed with an HTTP Range request)
 *     snapshots/<commit>/<path>        relative symlinks into blobs/
 *     refs/<revision>                  the commit a branch or tag pointed at when last resolved
 *
 * Files are therefore downloaded once, whoever asks for them.
 */
export class RepoCache {
  readonly dir: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    this.dir = join(cacheDir, `models--${repo.split('/').join('--')}`);
  }

  blob(etag: string): string {
    return join(this.dir, 'blobs', etag);
  }

  snapshotDir(commit: string): string {
    return join(this.dir, 'snapshots', commit);
  }

  snapshotFile(commit: string, path: string): string {
    return join(this.snapshotDir(commit), path);
  }

  /** The commit `refs/<revision>` names, or undefined when the revision was never resolved here. */
  async readRef(revision: string): Promise<string | undefined> {
    try {
      const text = (await readFile(join(this.dir, 'refs', revision), 'utf8')).trim();
      return /^[0-9a-f]{40}$/.test(text) ? text : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Written without a newline, as huggingface_hub writes it. */
  async writeRef(revision: string, commit: string): Promise<void> {
    const file = join(this.dir, 'refs', revision);
    await mkdir(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, commit);
    await rename(temporary, file);
  }

  /** Does the snapshot hold `path` (a link whose blob is there)? */
  async hasFile(commit: string, path: string): Promise<boolean> {
    try {
      return (await stat(this.snapshotFile(commit, path))).isFile();
    } catch {
      return false;
    }
  }

  /** Points `snapshots/<commit>/<path>` at the blob with a relative link, replacing a stale one. */
  async link(commit: string, path: string, etag: string): Promise<void> {
    const file = this.snapshotFile(commit, path);
    await mkdir(dirname(file), { recursive: true });
    const target = relative(dirname(file), this.blob(etag));
    try {
      if ((await lstat(file)).isSymbolicLink() && (await readlink(file)) === target) return;
      await unlink(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await symlink(target, file);
  }
}
