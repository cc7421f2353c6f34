import { downloadFile, fileDownloadInfo, HubApiError, modelInfo, pathsInfo, type PathInfo } from '@huggingface/hub';
import { HubError, HubErrorKind } from './hub-error.ts';

/** Where the Hub is and who asks (the library reads neither HF_ENDPOINT nor HF_TOKEN itself). */
export interface HubAccess {
  endpoint: string;
  token: string | undefined;
}

/** A file of the repository at one commit, as `paths-info` lists it. */
export interface RemoteFile {
  path: string;
  size: number;
  /** LFS files: the sha256 of the contents. */
  sha256: string | null;
  /** The git blob id (for LFS files, the pointer's). */
  gitOid: string;
  /** The cache's blob name: the LFS sha256, else the git blob id (as huggingface_hub names blobs). */
  etag: string;
}

/**
 * The few Hub calls a pull makes, through @huggingface/hub, with every failure turned into a HubError that names the
 * repository (and the file) and says what to do.
 */
export class HubClient {
  constructor(
    private readonly access: HubAccess,
    readonly repo: string,
  ) {}

  /** The 40-character commit a branch, tag or commit names (`GET /api/models/{repo}/revision/{revision}`). */
  async resolveCommit(revision: string): Promise<string> {
    const info = await this.call(`revision "${revision}"`, () =>
      modelInfo({ name: this.repo, revision, additionalFields: ['sha'], hubUrl: this.access.endpoint, accessToken: this.access.token }),
    );
    if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha)) {
      throw new HubError(HubErrorKind.NOT_FOUND, `${this.repo}: the Hub did not return a commit for revision "${revision}"`);
    }
    return info.sha;
  }

  /** Which of `paths` exist at `commit`, with sizes and hashes (`POST /api/models/{repo}/paths-info/{commit}`). */
  async files(commit: string, paths: readonly string[]): Promise<Map<string, RemoteFile>> {
    const infos: PathInfo[] = await this.call(`commit ${commit}`, () =>
      pathsInfo({ repo: this.repo, paths: [...paths], revision: commit, hubUrl: this.access.endpoint, accessToken: this.access.token }),
    );
    const files = new Map<string, RemoteFile>();
    for (const info of infos) {
      if (info.type !== 'file' || typeof info.oid !== 'string') continue;
      const sha256 = info.lfs?.oid ?? null;
      files.set(info.path, { path: info.path, size: info.lfs?.size ?? info.size, sha256, gitOid: info.oid, etag: sha256 ?? info.oid });
    }
    return files;
  }

  /**
   * The file's bytes from `offset` on. `resolve` redirects to the CDN; the library probes it (`Range: bytes=0-0`),
   * then asks for `Range: bytes=offset-` when resuming, or for the whole file.
   */
  async open(commit: string, file: RemoteFile, offset: number, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const fetchWithSignal: typeof fetch = (input, init) => fetch(input, { ...init, signal });
    const where = `${file.path} at ${commit}`;
    const common = { repo: this.repo, path: file.path, revision: commit, hubUrl: this.access.endpoint, accessToken: this.access.token, fetch: fetchWithSignal };
    const info = await this.call(where, () => fileDownloadInfo(common));
    if (info === null) throw new HubError(HubErrorKind.MISSING_FILE, `${this.repo}: ${file.path} is missing at commit ${commit}`);
    if (info.size !== file.size) {
      throw new HubError(HubErrorKind.CHECKSUM_MISMATCH, `${this.repo}: ${file.path} has ${info.size} bytes on the CDN but the Hub lists ${file.size}`);
    }
    // xet off: a plain Web blob, whose slices are HTTP Range requests (what resuming needs).
    const blob = await this.call(where, () => downloadFile({ ...common, xet: false, downloadInfo: info }));
    if (blob === null) throw new HubError(HubErrorKind.MISSING_FILE, `${this.repo}: ${file.path} is missing at commit ${commit}`);
    return blob.slice(offset).stream() as ReadableStream<Uint8Array>;
  }

  private async call<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.explain(error, what);
    }
  }

  /** Turns a library or network failure into a HubError that says what to do. */
  explain(error: unknown, what: string): HubError {
    if (error instanceof HubError) return error;
    const repo = this.repo;
    if (error instanceof HubApiError) {
      const said = (error.message.split('. URL:')[0] ?? '').trim();
      switch (error.statusCode) {
        case 401:
          return new HubError(
            HubErrorKind.UNAUTHORIZED,
            this.access.token
              ? `${repo}: HF_TOKEN was refused (401) for ${what}: the token is invalid or expired, or the repository does not exist`
              : `${repo}: not found, or private: set HF_TOKEN (the Hub answers 401 for both without a token)`,
            { cause: error },
          );
        case 403:
          return new HubError(
            HubErrorKind.UNAUTHORIZED,
            `${repo}: access denied (403) for ${what}: the repository is gated or the token lacks read access; accept its conditions on ${this.access.endpoint}/${repo} with the account of HF_TOKEN (${said})`,
            { cause: error },
          );
        case 404:
          return /rev/i.test(said)
            ? new HubError(HubErrorKind.NOT_FOUND, `${repo}: unknown ${what} (${said})`, { cause: error })
            : new HubError(HubErrorKind.NOT_FOUND, `${repo}: repository not found on ${this.access.endpoint} (${said})`, { cause: error });
        default:
          return new HubError(HubErrorKind.NETWORK, `${repo}: the Hub answered ${error.statusCode} for ${what} (${said}); try again later`, {
            cause: error,
            resumable: true,
          });
      }
    }
    if (error instanceof TypeError && /checkCredentials|access token/i.test(error.message)) {
      return new HubError(HubErrorKind.USAGE, `HF_TOKEN: ${error.message}`, { cause: error });
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
    return new HubError(HubErrorKind.NETWORK, `${repo}: network failure on ${what} at ${this.access.endpoint} (${detail}); run the same pull again to resume`, {
      cause: error,
      resumable: true,
    });
  }
}
