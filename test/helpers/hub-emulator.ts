import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BLIP_TINY } from './fixtures.ts';

/**
 * A Hugging Face Hub on 127.0.0.1 for tests, written from the Hub's documented behaviour and checked against what
 * @huggingface/hub 2.17 requests:
 *
 * - `GET  /api/models/{repo}/revision/{rev}`      model info with `sha` and `siblings` (modelInfo)
 * - `POST /api/models/{repo}/paths-info/{rev}`    sizes, git oids and `lfs.oid` of the asked paths (pathsInfo)
 * - `GET  /api/models/{repo}/tree/{rev}`          the file listing (listFiles)
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}`       regular files inline; LFS files (*.safetensors, *.bin) answered
 *   with a 302 to `/cdn-lfs/...` and X-Repo-Commit / X-Linked-Etag / X-Linked-Size, as the Hub does
 * - `GET  /cdn-lfs/{repo}/{sha256}`                the "CDN": an ETag that is not the sha256 (as S3's is not), Range
 *
 * Private repositories need `Authorization: Bearer <token>`; without one, an unknown repository is a 401 too (the
 * Hub does not say which). Faults: cut the connection after N bytes of a file (N times), or flip one byte of it.
 */
export interface EmulatedRepo {
  id: string;
  files: Record<string, Buffer>;
  private?: boolean;
  /** Every request for it gets 403 (a gated repository whose conditions the token's user did not accept). */
  gated?: boolean;
  /** Extra names for the commit, e.g. `{ v1: '<commit>' }` is filled in automatically for `tags: ['v1']`. */
  tags?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface Fault {
  repo: string;
  path: string;
  /** Cut the connection after sending this many bytes of the response body. */
  cutAfterBytes?: number;
  /** How many responses to cut (default 1). */
  times?: number;
  /** Serve the file with one byte flipped (the listed hashes stay those of the true file). */
  corrupt?: boolean;
}

interface StoredFile {
  data: Buffer;
  lfs: boolean;
  sha256: string;
  /** git blob id of the file, or of its LFS pointer. */
  gitOid: string;
  pointerSize: number;
}

interface StoredRepo {
  repo: EmulatedRepo;
  commit: string;
  files: Map<string, StoredFile>;
}

export interface HubEmulator {
  url: string;
  requests: RecordedRequest[];
  /** The commit `main` of a repository resolves to. */
  commitOf(repo: string): string;
  addRepo(repo: EmulatedRepo): void;
  fault(fault: Fault): void;
  clearFaults(): void;
  /** Slows LFS downloads to about this many bytes per second (0: full speed). */
  throttle(bytesPerSecond: number): void;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin|onnx|pt|h5|msgpack)$/;

/** The files of a tiny fixture checkpoint as a repository holds them (without the test references). */
export function fixtureRepoFiles(task: 'caption' | 'vqa', options: { weights?: 'safetensors' | 'pytorch' | 'both' } = {}): Record<string, Buffer> {
  const dir = join(BLIP_TINY, task);
  const weights = options.weights ?? 'both';
  const files: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    if (name === 'references.json' || !statSync(join(dir, name)).isFile()) continue;
    if (weights === 'safetensors' && name === 'pytorch_model.bin') continue;
    if (weights === 'pytorch' && name === 'model.safetensors') continue;
    files[name] = readFileSync(join(dir, name));
  }
  return files;
}

export async function startHubEmulator(repos: EmulatedRepo[], options: { token?: string } = {}): Promise<HubEmulator> {
  const stored = new Map<string, StoredRepo>();
  const requests: RecordedRequest[] = [];
  let faults: Array<Fault & { left: number }> = [];
  let bytesPerSecond = 0;

  const addRepo = (repo: EmulatedRepo) => {
    const files = new Map<string, StoredFile>();
    const commitHash = createHash('sha1').update(repo.id);
    for (const [path, data] of Object.entries(repo.files).sort(([a], [b]) => a.localeCompare(b))) {
      const sha256 = createHash('sha256').update(data).digest('hex');
      const lfs = LFS.test(path);
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${data.length}\n`);
      const gitOid = gitBlobId(lfs ? pointer : data);
      files.set(path, { data, lfs, sha256, gitOid, pointerSize: pointer.length });
      commitHash.update(`${path}\0${gitOid}`);
    }
    stored.set(repo.id, { repo, commit: commitHash.digest('hex'), files });
  };
  repos.forEach(addRepo);

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname), range: req.headers.range, authorization: req.headers.authorization });
    handle(req, res).catch((error) => {
      if (!res.headersSent) json(res, 500, { error: String(error) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models') {
      const [, , org, name, endpoint, ...rest] = parts;
      const repo = authorize(req, res, `${org}/${name}`);
      if (!repo) return;
      const commit = revisionOf(repo, rest[0] ?? 'HEAD', res);
      if (!commit) return;
      if (endpoint === 'revision' && req.method === 'GET') {
        return json(res, 200, {
          _id: repo.commit.slice(0, 24),
          id: repo.repo.id,
          sha: commit,
          private: repo.repo.private === true,
          gated: false,
          downloads: 0,
          likes: 0,
          lastModified: '2026-01-01T00:00:00.000Z',
          pipeline_tag: 'image-to-text',
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      if (endpoint === 'paths-info' && req.method === 'POST') {
        const body = JSON.parse((await readBody(req)) || '{}') as { paths?: string[]; expand?: boolean };
        return json(res, 200, (body.paths ?? []).filter((path) => repo.files.has(path)).map((path) => entry(repo, path, body.expand === true)));
      }
      if (endpoint === 'tree' && req.method === 'GET') {
        return json(res, 200, [...repo.files.keys()].map((path) => entry(repo, path, false)));
      }
      return json(res, 404, { error: 'Not found' });
    }
    if (parts[0] === 'cdn-lfs') {
      const repo = stored.get(`${parts[1]}/${parts[2]}`);
      const file = repo && [...repo.files.entries()].find(([, f]) => f.sha256 === parts[3]);
      if (!repo || !file) return json(res, 404, { error: 'Not found' });
      return serveBytes(req, res, repo, file[0], file[1], { ETag: `"${createHash('md5').update(file[1].data).digest('hex')}"` });
    }
    const [org, name, kind, revision, ...pathParts] = parts;
    if (kind !== 'resolve' || (req.method !== 'GET' && req.method !== 'HEAD')) return json(res, 404, { error: 'Not found' });
    const repo = authorize(req, res, `${org}/${name}`);
    if (!repo) return;
    const commit = revisionOf(repo, revision, res);
    if (!commit) return;
    const path = pathParts.join('/');
    const file = repo.files.get(path);
    if (!file) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (file.lfs) {
      res.writeHead(302, {
        Location: `/cdn-lfs/${repo.repo.id}/${file.sha256}?expires=${Date.now() + 3_600_000}`,
        'X-Repo-Commit': commit,
        'X-Linked-Etag': `"${file.sha256}"`,
        'X-Linked-Size': String(file.data.length),
        ETag: `"${file.gitOid}"`,
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    return serveBytes(req, res, repo, path, file, { ETag: `"${file.gitOid}"`, 'X-Repo-Commit': commit });
  }

  function authorize(req: IncomingMessage, res: ServerResponse, id: string): StoredRepo | undefined {
    const repo = stored.get(id);
    const auth = req.headers.authorization;
    const valid = options.token !== undefined && auth === `Bearer ${options.token}`;
    if (auth !== undefined && !valid) {
      json(res, 401, { error: 'Invalid credentials in Authorization header' });
      return undefined;
    }
    if (!repo || repo.repo.private) {
      if (!valid) {
        json(res, 401, { error: 'Invalid username or password.' }, { 'X-Error-Code': 'RepoNotFound' });
        return undefined;
      }
      if (!repo) {
        json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        return undefined;
      }
    }
    if (repo.repo.gated) {
      json(res, 403, { error: `Access to model ${id} is restricted and you are not in the authorized list` }, { 'X-Error-Code': 'GatedRepo' });
      return undefined;
    }
    return repo;
  }

  function revisionOf(repo: StoredRepo, revision: string, res: ServerResponse): string | undefined {
    if (revision === 'main' || revision === 'HEAD' || revision === repo.commit || repo.repo.tags?.includes(revision)) return repo.commit;
    json(res, 404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });
    return undefined;
  }

  function entry(repo: StoredRepo, path: string, expand: boolean): Record<string, unknown> {
    const file = repo.files.get(path)!;
    return {
      type: 'file',
      oid: file.gitOid,
      size: file.data.length,
      path,
      ...(file.lfs ? { lfs: { oid: file.sha256, size: file.data.length, pointerSize: file.pointerSize } } : {}),
      ...(expand ? { lastCommit: { id: repo.commit, title: 'Upload', date: '2026-01-01T00:00:00.000Z' }, securityFileStatus: { status: 'safe' } } : {}),
    };
  }

  async function serveBytes(req: IncomingMessage, res: ServerResponse, repo: StoredRepo, path: string, file: StoredFile, headers: Record<string, string>): Promise<void> {
    let data = file.data;
    const active = faults.filter((f) => f.repo === repo.repo.id && f.path === path);
    if (active.some((f) => f.corrupt)) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!match || Number(match[1]) >= data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
        res.end();
        return;
      }
      start = Number(match[1]);
      end = match[2] === '' ? data.length - 1 : Math.min(Number(match[2]), data.length - 1);
      status = 206;
    }
    const body = data.subarray(start, end + 1);
    res.writeHead(status, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // A probe of one byte is never cut: the library asks for bytes=0-0 before downloading.
    const cut = body.length > 1 ? active.find((f) => f.cutAfterBytes !== undefined && f.left > 0) : undefined;
    if (cut) {
      cut.left--;
      res.write(body.subarray(0, Math.min(cut.cutAfterBytes!, body.length - 1)), () => res.socket?.destroy());
      return;
    }
    if (bytesPerSecond > 0 && file.lfs) {
      const chunk = Math.max(1024, Math.floor(bytesPerSecond / 20));
      for (let offset = 0; offset < body.length && !res.destroyed; offset += chunk) {
        res.write(body.subarray(offset, offset + chunk));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      res.end();
      return;
    }
    res.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    commitOf: (repo) => stored.get(repo)!.commit,
    addRepo,
    fault: (fault) => faults.push({ ...fault, left: fault.times ?? 1 }),
    clearFaults: () => {
      faults = [];
    },
    throttle: (value) => {
      bytesPerSecond = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function gitBlobId(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
