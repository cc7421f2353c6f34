import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, REPO_ROOT } from '../../../src/config/config.ts';
import { convertCheckpoint } from '../../../src/models/blip/convert/convert-checkpoint.ts';
import { startServer, type RunningServer, type StartOptions } from '../../../src/main.ts';
import type { RegistryEvent } from '../../../src/registry/model-registry.ts';
import { CAPTION_CHECKPOINT, readImage } from '../../helpers/fixtures.ts';
import { garbleGraph } from '../../helpers/garble-graph.ts';

export interface GraphQLBody<TData> {
  data?: TData | null;
  errors?: GraphQLFormattedError[];
}

export interface HttpResult<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestServer {
  url: string;
  server: RunningServer;
  /** Registry events since start (conversions, loads). */
  events: RegistryEvent[];
  registryDir: string;
  /** Sends a typed document (from test/generated) as JSON over HTTP. */
  gql<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables?: TVariables, headers?: Record<string, string>): Promise<HttpResult<GraphQLBody<TData>>>;
  /** POSTs any JSON body to /graphql. */
  postGraphQL(body: unknown, headers?: Record<string, string>): Promise<HttpResult<any>>;
  /** POSTs a JSON body to the REST route. */
  rest(body: unknown): Promise<HttpResult<any>>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Environment for loadConfig, over the test defaults. */
  env?: Record<string, string>;
  /**
   * Extra variants for error tests: `broken` is installed but its vision graph is garbage (MODEL_LOAD_FAILED);
   * `official` is a Hugging Face variant that is not installed; `small-queue` takes one request at a time
   * (batching.maxQueueSize 1: OVERLOADED beyond it).
   */
  extraVariants?: Array<'broken' | 'official' | 'small-queue'>;
  /** The server's logger (default: silent). */
  logger?: import('pino').Logger;
  /** How variants are served (default: the worker-thread ONNX backend, as in production). */
  startBackend?: StartOptions['startBackend'];
}

export const BROKEN_VARIANT = 'broken-tiny';
export const OFFICIAL_VARIANT = 'zz-official-not-installed';
export const SMALL_QUEUE_VARIANT = 'small-queue';

/**
 * Starts the real server on port 0 over a temporary copy of the shipped registry (variant.json files only: the
 * embedded variants are converted at start-up, as on a fresh clone).
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const scratch = await mkdtemp(join(tmpdir(), 'blip-gateway-test-'));
  const registryDir = join(scratch, 'registry');
  await copyShippedRegistry(registryDir);
  const extras = options.extraVariants ?? [];
  if (extras.includes('broken')) await addBrokenVariant(registryDir);
  if (extras.includes('official')) await addOfficialVariant(registryDir);
  if (extras.includes('small-queue')) await addConvertedVariant(registryDir, SMALL_QUEUE_VARIANT, 'test variant with a queue of one', { maxBatchSize: 1, maxQueueSize: 1 });

  const events: RegistryEvent[] = [];
  const config = loadConfig({ NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', REGISTRY_DIR: registryDir, ...options.env });
  let server: RunningServer;
  try {
    server = await startServer(config, {
      onRegistryEvent: (event) => events.push(event),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.startBackend ? { startBackend: options.startBackend } : {}),
    });
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult<any>> => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.status, headers: response.headers, body: await readJson(response) };
  };
  return {
    url: server.url,
    server,
    events,
    registryDir,
    gql: (document, variables, headers) => post('/graphql', { query: print(document), variables }, headers),
    postGraphQL: (body, headers) => post('/graphql', body, headers),
    rest: (body) => post('/api/v1/inference/blip', body),
    close: async () => {
      await server.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

export async function readJson(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A fixture image as base64. */
export function base64Image(name: string): string {
  return Buffer.from(readImage(name)).toString('base64');
}

/** Errors sorted by path, for batches whose items finish in any order. */
export function byPath(errors: readonly GraphQLFormattedError[] | undefined): GraphQLFormattedError[] {
  return [...(errors ?? [])].sort((a, b) => JSON.stringify(a.path).localeCompare(JSON.stringify(b.path)));
}

// Private.

export async function copyShippedRegistry(target: string): Promise<void> {
  const source = join(REPO_ROOT, 'registry');
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const variantFile = join(source, entry.name, 'variant.json');
    if (!(await stat(variantFile).catch(() => null))) continue;
    await mkdir(join(target, entry.name), { recursive: true });
    await copyFile(variantFile, join(target, entry.name, 'variant.json'));
  }
}

/** A caption variant converted from the tiny fixture checkpoint into the registry (not embedded). */
async function addConvertedVariant(registryDir: string, name: string, description: string, batching?: object): Promise<string> {
  const dir = join(registryDir, name);
  await convertCheckpoint({ source: { kind: 'checkpoint', dir: CAPTION_CHECKPOINT }, outDir: dir, name });
  await writeFile(
    join(dir, 'variant.json'),
    JSON.stringify({ name, task: 'caption', description, source: { checkpoint: 'test/fixtures/blip-tiny/caption' }, ...(batching ? { batching } : {}) }),
  );
  return dir;
}

async function addBrokenVariant(registryDir: string): Promise<void> {
  const dir = await addConvertedVariant(registryDir, BROKEN_VARIANT, 'test variant whose vision graph is garbage');
  // Same size as the real graph, so the installation check passes and the failure happens when the worker loads it.
  await garbleGraph(dir, 'vision_model.onnx');
}

export async function addOfficialVariant(registryDir: string): Promise<void> {
  const dir = join(registryDir, OFFICIAL_VARIANT);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'variant.json'),
    JSON.stringify({ name: OFFICIAL_VARIANT, task: 'caption', description: 'an official variant that is not installed', source: { huggingFace: 'Salesforce/blip-image-captioning-base' } }),
  );
}
