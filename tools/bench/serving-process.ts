/**
 * One serving process per bench variant: the real server started as `npm start` starts it (a child `node --import
 * tsx src/main.ts` with the same glibc setting, through the fleet tests' harness), over a temporary registry holding only that variant, so that
 * its RSS is the serving process's alone. Gives the process's peak RSS (VmHWM), its /metrics text, and GraphQL calls.
 */
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Precision } from '../../src/variant/manifest.ts';
import { DEFAULT_BATCHING } from '../../src/registry/variant-config.ts';
import { SERVING_MALLOC_ENV } from './serving-env.ts';
import { postJson, startReplica, type Replica } from '../../test/integration/fleet/fleet-harness.ts';

/** Admin key of the bench's own servers (loopback only, temporary). */
const ADMIN_KEY = 'bench-admin-key-loopback-only';
/** A request that waits this long without a byte is a hung server, not a slow one. */
const REQUEST_TIMEOUT_MS = 15 * 60_000;

export interface BatchingSettings {
  maxBatchSize: number;
  maxRows: number;
}

/** The shipped defaults (a variant.json without `batching`): what a deployment gets, and what the memory bound counts. */
export const BATCHED: BatchingSettings = { maxBatchSize: DEFAULT_BATCHING.maxBatchSize, maxRows: DEFAULT_BATCHING.maxRows };
export const UNBATCHED: BatchingSettings = { maxBatchSize: 1, maxRows: 1 };

export interface ServingProcess {
  name: string;
  precision: Precision;
  batching: boolean;
  url: string;
  pid: number;
  /** Peak and current resident set of the serving process, MB (/proc/<pid>/status VmHWM, VmRSS). */
  memory(): Promise<{ peakMb: number; rssMb: number }>;
  metrics(): Promise<string>;
  /** A GraphQL operation with the admin key; throws on any error. */
  graphql<T>(query: string, variables?: object): Promise<T>;
  /** One caption of `base64` (a JPEG) forced to `tokens` tokens; resolves with the client-observed milliseconds. */
  caption(base64: string, tokens: number): Promise<number>;
  stop(): Promise<void>;
}

/** A registry folder holding one variant: the converted model's files hard-linked, its own name and batching. */
async function makeRegistry(modelDir: string, name: string, precision: Precision, batching: BatchingSettings, description: string): Promise<string> {
  const registryDir = await mkdtemp(join(tmpdir(), 'bench-registry-'));
  const dir = join(registryDir, name);
  await mkdir(dir);
  await linkTree(modelDir, dir, (name) => name !== 'manifest.json');
  const manifest = JSON.parse(await readFile(join(modelDir, 'manifest.json'), 'utf8'));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, name }));
  await writeFile(
    join(dir, 'variant.json'),
    JSON.stringify({ name, task: 'caption', description, precision, source: { huggingFace: 'Salesforce/blip-image-captioning-base' }, batching: { ...batching, maxQueueDelayMs: 5, maxQueueSize: 1000 } }),
  );
  return registryDir;
}

/** Hard-links every file under `from` into `to`, sub-folders included (a converter may write some). */
async function linkTree(from: string, to: string, keep: (name: string) => boolean = () => true): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (!keep(entry.name)) continue;
    if (entry.isDirectory()) {
      await mkdir(join(to, entry.name));
      await linkTree(join(from, entry.name), join(to, entry.name));
    } else if (entry.isFile()) {
      await link(join(from, entry.name), join(to, entry.name));
    }
  }
}

/** `env`: more environment for the server (c1-phase.ts sets INTRA_OP_SPINNING); `suffix` tells such processes apart. */
export async function startServingProcess(modelDir: string, precision: Precision, batching: boolean, description: string, env: Record<string, string> = {}, suffix = ''): Promise<ServingProcess> {
  const name = `bench-${precision}-${batching ? 'batched' : 'unbatched'}${suffix}`;
  const registryDir = await makeRegistry(modelDir, name, precision, batching ? BATCHED : UNBATCHED, description);
  let replica: Replica;
  try {
    replica = await startReplica(name, { ...SERVING_MALLOC_ENV, REGISTRY_DIR: registryDir, NODE_ENV: 'production', LOG_LEVEL: 'info', ADMIN_API_KEY: ADMIN_KEY, RATE_LIMIT_PER_MINUTE: '0', ...env });
  } catch (error) {
    await rm(registryDir, { recursive: true, force: true });
    throw error;
  }
  const pid = replica.child.pid!;
  const url = replica.url;

  // node:http with a long idle timeout, not fetch: at concurrency 64 on a large model a response can take minutes,
  // longer than fetch's fixed 300 s wait for headers.
  const graphql = async <T>(query: string, variables: object = {}): Promise<T> => {
    const outcome = await postJson(`${url}/graphql`, { query, variables }, { timeoutMs: REQUEST_TIMEOUT_MS, headers: { 'x-admin-key': ADMIN_KEY } });
    const body = outcome.body as { data?: T; errors?: unknown } | undefined;
    if (outcome.status !== 200 || !body || body.errors || !body.data) throw new Error(`${name}: HTTP ${outcome.status} ${outcome.error ?? ''} ${JSON.stringify(body).slice(0, 500)}`);
    return body.data;
  };

  return {
    name,
    precision,
    batching,
    url,
    pid,
    memory: async () => {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
    },
    metrics: async () => {
      const response = await fetch(`${url}/metrics`);
      if (!response.ok) throw new Error(`${name}: GET /metrics answered ${response.status}`);
      return response.text();
    },
    graphql,
    caption: async (base64: string, tokens: number) => {
      const t0 = performance.now();
      const data = await graphql<{ caption: { sequence: number[] } }>('mutation($input: CaptionInput!) { caption(input: $input) { sequence } }', {
        input: { model: name, image: { base64 }, options: { minLength: tokens, maxLength: tokens } },
      });
      if (data.caption.sequence.length !== tokens) throw new Error(`${name}: a caption of ${data.caption.sequence.length} tokens instead of ${tokens}`);
      return performance.now() - t0;
    },
    stop: async () => {
      replica.child.kill('SIGTERM');
      await replica.exited;
      await rm(registryDir, { recursive: true, force: true });
    },
  };
}
