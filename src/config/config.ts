import { homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, createReader } from './reader.ts';

export { ConfigError } from './reader.ts';
import type { ImageLimits } from '../image/decode.ts';
import { APOLLO_STUDIO_ORIGINS, DEFAULT_IMAGE_LIMITS, DEFAULT_LIMITS, DEFAULT_SERVER } from './defaults.ts';

/**
 * The server's whole configuration, read from the environment once at start-up (nothing else reads `process.env`).
 * Every value is checked here; a bad one stops the server with a ConfigError naming the variable.
 */
export interface Config {
  /** `NODE_ENV`; `production` turns off the Sandbox landing page, stack traces and (by default) introspection. */
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  /** The repository checkout (where `source.checkpoint` paths of embedded variants are resolved). */
  readonly repoRoot: string;
  /** The model registry folder (one folder per variant). */
  readonly registryDir: string;
  readonly introspection: boolean;
  /** The Apollo Sandbox landing page on GET /graphql (never in production). */
  readonly landingPage: boolean;
  readonly logLevel: LogLevel;
  /** Longest the server waits for requests in flight when it stops. */
  readonly shutdownTimeoutMs: number;
  /** ONNX Runtime threads per operator in each inference worker (undefined: the CPUs the process may use, see runtime/onnx-session.ts). */
  readonly intraOpThreads: number | undefined;
  /** Let idle ONNX Runtime threads spin for the next operator (faster alone, slower when workers share cores). */
  readonly intraOpSpinning: boolean;
  /** Keep one inference worker started ahead of the next model load (backend/worker/spare-worker.ts). */
  readonly spareWorker: boolean;
  /** Apply EXIF orientation before captioning. */
  readonly autoOrient: boolean;
  readonly limits: Limits;
  readonly imageStore: ImageStoreConfig;
  readonly imageFetch: ImageFetchConfig;
  readonly rateLimit: RateLimitConfig;
  /** `ADMIN_API_KEY`: the `x-admin-key` the admin mutations require; undefined = admin mutations are refused. */
  readonly adminApiKey: string | undefined;
  readonly models: ModelsConfig;
  readonly fleet: FleetConfig;
  readonly cors: CorsConfig;
  readonly streams: StreamLimits;
  readonly hub: HubConfig;
}

/** Bounds on what one client (by IP address) holds open on the streaming transports (graphql-ws, graphql-sse). */
export interface StreamLimits {
  /** Open WebSocket connections plus open SSE requests. */
  readonly connectionsPerClient: number;
  /** Subscriptions running at once, over both transports. */
  readonly subscriptionsPerClient: number;
}


/** Running several replicas behind a load balancer (README "Running many replicas"). */
export interface FleetConfig {
  /** `REDIS_URL`: uploaded images and rate-limit buckets live there, shared by every replica; undefined = in process. */
  readonly redisUrl: string | undefined;
  /** Prefix of every key the gateway writes to Redis (several deployments can share one Redis). */
  readonly redisKeyPrefix: string;
  /**
   * `TRUST_PROXY`, as Express's `trust proxy` setting takes it: a hop count, or the addresses/CIDRs (and the names
   * `loopback`, `linklocal`, `uniquelocal`) of proxies whose X-Forwarded-For is believed; false = the TCP peer.
   */
  readonly trustProxy: number | readonly string[] | false;
  /** After SIGTERM, /readyz answers 503 while the server keeps serving this long, then it closes its listeners. */
  readonly shutdownDrainMs: number;
}

/** Which browser origins may call the server (see `corsPolicy` in src/http/cors.ts). */
export interface CorsConfig {
  /** Any origin may call, without credentials (`CORS_ORIGINS=*`; the default outside production). */
  readonly anyOrigin: boolean;
  /** The origins allowed besides the server's own, when `anyOrigin` is false (`scheme://host[:port]`, lower case). */
  readonly origins: readonly string[];
}

/** Where and how models are pulled from the Hugging Face Hub (the CLI's `pull` and the `installModel` mutation). */
export interface HubConfig {
  /** `HF_ENDPOINT`: the Hub or a mirror, without a trailing slash. */
  readonly endpoint: string;
  /** `HF_TOKEN`, for private and gated repositories. */
  readonly token: string | undefined;
  /** `HF_HUB_OFFLINE=1`: only the cache is used; no request leaves the machine. */
  readonly offline: boolean;
  /** `HF_HUB_CACHE`, else `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. */
  readonly cacheDir: string;
  /** `AUTO_INSTALL=true`: a request for a listed but not installed variant starts its install. */
  readonly autoInstall: boolean;
}

export interface RateLimitConfig {
  /** Requests per minute per client IP, refilled continuously; 0 = no rate limit. */
  readonly perMinute: number;
  /** Requests a client may send at once (the bucket's size). */
  readonly burst: number;
}

export interface ModelsConfig {
  /** Bytes the loaded variants may take together (each counted as its manifest's file bytes). */
  readonly memoryBudgetBytes: number;
  /** Variants loaded at start-up, before the server listens. */
  readonly preload: readonly string[];
  /** Variants never evicted to make room in the memory budget. */
  readonly pin: readonly string[];
}

export interface Limits {
  /** Largest request body, JSON or multipart. */
  readonly bodyBytes: number;
  readonly image: Readonly<ImageLimits>;
  /** Longest question in characters (the model's token limit is checked after tokenizing). */
  readonly questionChars: number;
  /** Longest caption prompt in characters. */
  readonly promptChars: number;
  /** Most items in one captionBatch / answerBatch. */
  readonly batchItems: number;
  /** Deepest selection set of an operation (introspection excluded). */
  readonly queryDepth: number;
  /** Most fields (aliases and fragment spreads counted each time) in an operation (introspection excluded). */
  readonly queryFields: number;
  /** Most lexical tokens in an operation: refused while parsing, before a huge query can hold the event loop. */
  readonly queryTokens: number;
}

export interface ImageStoreConfig {
  /** Total bytes of images kept for `imageId`; the least recently used go first. */
  readonly maxBytes: number;
  readonly maxImages: number;
  /** An image is forgotten this long after it was last uploaded or used. */
  readonly ttlMs: number;
}

export interface ImageFetchConfig {
  /** Hosts `image.url` may point at (`example.com` or `*.example.com`); empty = fetching by URL is off. */
  readonly allowedHosts: readonly string[];
  readonly timeoutMs: number;
  /**
   * Fetch from private, loopback and link-local addresses too (`IMAGE_URL_ALLOW_PRIVATE`). Off by default: an
   * allow-listed name that resolves to an internal address is refused. For tests and trusted internal image hosts.
   */
  readonly allowPrivateAddresses: boolean;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];


/** The repository checkout this file belongs to. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const MIB = 1024 * 1024;

/**
 * Reads the configuration from `env` (default `process.env`). Unknown variables are ignored; empty strings count as
 * unset. Throws ConfigError on the first bad value.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const read = createReader(env);
  const production = read.string('NODE_ENV', 'development') === 'production';
  const repoRoot = resolve(read.string('REPO_ROOT', REPO_ROOT));
  const registryDir = read.path('REGISTRY_DIR', resolve(repoRoot, 'registry'), repoRoot);

  const image: ImageLimits = {
    maxBytes: read.integer('MAX_IMAGE_BYTES', DEFAULT_IMAGE_LIMITS.maxBytes, 1, 1024 * MIB),
    maxPixels: read.integer('MAX_IMAGE_PIXELS', DEFAULT_IMAGE_LIMITS.maxPixels, 1, 1_000_000_000),
  };
  const limits: Limits = {
    bodyBytes: read.integer('MAX_BODY_BYTES', DEFAULT_LIMITS.bodyBytes, 1024, 2048 * MIB),
    image,
    questionChars: read.integer('MAX_QUESTION_CHARS', DEFAULT_LIMITS.questionChars, 1, 100_000),
    promptChars: read.integer('MAX_PROMPT_CHARS', DEFAULT_LIMITS.promptChars, 1, 100_000),
    batchItems: read.integer('MAX_BATCH_ITEMS', DEFAULT_LIMITS.batchItems, 1, 1024),
    queryDepth: read.integer('MAX_QUERY_DEPTH', DEFAULT_LIMITS.queryDepth, 2, 100),
    queryFields: read.integer('MAX_QUERY_FIELDS', DEFAULT_LIMITS.queryFields, 1, 100_000),
    queryTokens: read.integer('MAX_QUERY_TOKENS', DEFAULT_LIMITS.queryTokens, 100, 10_000_000),
  };
  const imageStore: ImageStoreConfig = {
    maxBytes: read.integer('IMAGE_STORE_MAX_BYTES', DEFAULT_SERVER.imageStoreBytes, 1, 64 * 1024 * MIB),
    maxImages: read.integer('IMAGE_STORE_MAX_IMAGES', DEFAULT_SERVER.imageStoreImages, 1, 1_000_000),
    ttlMs: 1000 * read.integer('IMAGE_STORE_TTL_SECONDS', DEFAULT_SERVER.imageStoreTtlSeconds, 1, 7 * 24 * 3600),
  };
  if (imageStore.maxBytes < image.maxBytes) {
    throw new ConfigError('IMAGE_STORE_MAX_BYTES', `at least MAX_IMAGE_BYTES (${image.maxBytes}), so that one image fits`, String(imageStore.maxBytes));
  }
  const imageFetch: ImageFetchConfig = {
    allowedHosts: read.hosts('IMAGE_URL_ALLOWED_HOSTS'),
    timeoutMs: read.integer('IMAGE_URL_TIMEOUT_MS', DEFAULT_SERVER.imageFetchTimeoutMs, 1, 600_000),
    allowPrivateAddresses: read.boolean('IMAGE_URL_ALLOW_PRIVATE', false),
  };
  const rateLimit: RateLimitConfig = {
    perMinute: read.integer('RATE_LIMIT_PER_MINUTE', DEFAULT_SERVER.rateLimitPerMinute, 0, 1_000_000),
    burst: read.integer('RATE_LIMIT_BURST', DEFAULT_SERVER.rateLimitBurst, 1, 1_000_000),
  };
  const adminApiKey = read.optionalString('ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 16) {
    throw new ConfigError('ADMIN_API_KEY', 'a key of at least 16 characters', `${adminApiKey.length} characters`);
  }
  const models: ModelsConfig = {
    memoryBudgetBytes: read.integer('MODEL_MEMORY_BUDGET_BYTES', Math.floor(totalmem() * DEFAULT_SERVER.memoryBudgetFraction), 1, Number.MAX_SAFE_INTEGER),
    preload: read.names('PRELOAD_MODELS'),
    pin: read.names('PIN_MODELS'),
  };

  const fleet: FleetConfig = {
    redisUrl: read.redisUrl('REDIS_URL'),
    redisKeyPrefix: read.string('REDIS_KEY_PREFIX', 'blip-gateway:'),
    trustProxy: read.trustProxy('TRUST_PROXY'),
    shutdownDrainMs: read.integer('SHUTDOWN_DRAIN_MS', 0, 0, 600_000),
  };
  const introspection = read.boolean('GRAPHQL_INTROSPECTION', !production);
  const cors = corsConfig(read.origins('CORS_ORIGINS'), production, introspection);

  const config: Config = {
    production,
    host: read.host('HOST', DEFAULT_SERVER.host),
    port: read.integer('PORT', DEFAULT_SERVER.port, 0, 65535),
    repoRoot,
    registryDir,
    introspection,
    landingPage: !production,
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', DEFAULT_SERVER.shutdownTimeoutMs, 0, 600_000),
    intraOpThreads: read.optionalInteger('INTRA_OP_THREADS', 1, 256),
    intraOpSpinning: read.boolean('INTRA_OP_SPINNING', true),
    spareWorker: read.boolean('SPARE_WORKER', true),
    autoOrient: read.boolean('IMAGE_AUTO_ORIENT', true),
    limits,
    imageStore,
    imageFetch,
    rateLimit,
    adminApiKey,
    models,
    fleet,
    cors,
    streams: {
      connectionsPerClient: read.integer('STREAM_MAX_CONNECTIONS_PER_CLIENT', DEFAULT_SERVER.streamConnectionsPerClient, 1, 100_000),
      subscriptionsPerClient: read.integer('STREAM_MAX_SUBSCRIPTIONS_PER_CLIENT', DEFAULT_SERVER.streamSubscriptionsPerClient, 1, 100_000),
    },
    hub: readHubConfig(read),
  };
  return deepFreeze(config);
}

/**
 * `CORS_ORIGINS` unset: any origin outside production; in production only the server's own origin. A list allows
 * those origins; `*` any. Apollo Studio's origins join every list while introspection is on, so that the Explorer
 * and the embedded Sandbox can reach a server that lets them read its schema.
 */
function corsConfig(listed: string[] | undefined, production: boolean, introspection: boolean): CorsConfig {
  if (listed?.includes('*') || (listed === undefined && !production)) return { anyOrigin: true, origins: [] };
  const studio = introspection ? APOLLO_STUDIO_ORIGINS : [];
  return { anyOrigin: false, origins: [...new Set([...(listed ?? []), ...studio])] };
}

/** The Hub settings alone (for the CLI, which must not fail on server-only variables). */
export function loadHubConfig(env: Readonly<Record<string, string | undefined>> = process.env): HubConfig & { registryDir: string } {
  const read = createReader(env);
  const repoRoot = resolve(read.string('REPO_ROOT', REPO_ROOT));
  return { ...readHubConfig(read), registryDir: read.path('REGISTRY_DIR', resolve(repoRoot, 'registry'), repoRoot) };
}

function readHubConfig(read: ReturnType<typeof createReader>): HubConfig {
  const endpoint = read.string('HF_ENDPOINT', 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(endpoint)) throw new ConfigError('HF_ENDPOINT', 'an http(s) URL such as https://huggingface.co', endpoint);
  const token = read.optionalString('HF_TOKEN');
  // @huggingface/hub refuses other tokens; saying so at start-up beats a failure at the first pull.
  if (token !== undefined && !token.startsWith('hf_')) throw new ConfigError('HF_TOKEN', 'a Hugging Face token starting with hf_', `${token.slice(0, 3)}…`);
  const home = read.path('HF_HOME', join(read.path('XDG_CACHE_HOME', join(homedir(), '.cache'), process.cwd()), 'huggingface'), process.cwd());
  return {
    endpoint,
    token,
    offline: read.boolean('HF_HUB_OFFLINE', false),
    cacheDir: read.path('HF_HUB_CACHE', join(home, 'hub'), process.cwd()),
    autoInstall: read.boolean('AUTO_INSTALL', false),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
