import 'reflect-metadata';
import { realpathSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { createInferenceService } from './batching/inference-service.ts';
import { ConfigError, loadConfig, type Config } from './config/config.ts';
import { ServiceError } from './errors.ts';
import { createPathRedactor } from './gateway/redact.ts';
import { createInferenceRequests } from './gateway/requests.ts';
import { createGatewayHttpServer } from './http/server.ts';
import { GatewayMetrics } from './metrics/gateway-metrics.ts';
import { WorkerBackend } from './backend/worker/worker-backend.ts';
import { FAMILIES } from './models/families.ts';
import { createModelRegistry, type FileModelRegistry, type ModelRegistryOptions, type RegistryEvent } from './registry/model-registry.ts';
import { createSharedState, type SharedState } from './redis/shared-state.ts';
import { withAutoInstall } from './hub/auto-install.ts';
import { InstallJobs } from './hub/install-jobs.ts';
import { createImageLoader } from './upload/image-source.ts';

export interface StartOptions {
  logger?: Logger;
  /** Registry progress (conversions, loads), besides the log. */
  onRegistryEvent?: (event: RegistryEvent) => void;
  /** How variants are served (default: each in a worker thread running its family's ONNX runtime). */
  startBackend?: ModelRegistryOptions['startBackend'];
}

export interface RunningServer {
  /** `http://host:port`, without a path. */
  url: string;
  port: number;
  registry: FileModelRegistry;
  /** Turns /readyz to 503 (and asks clients to close connections) while the server keeps serving. */
  drain(): void;
  /** Stops accepting connections, drains requests in flight (up to `shutdownTimeoutMs`), stops the model workers. */
  close(): Promise<void>;
}

/**
 * The composition root: config → registry (scan, convert embedded variants) → inference engine → HTTP server →
 * listen. The only place that wires things together.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  let metrics: GatewayMetrics | undefined;
  // Only for the worker backend, which is the default: an injected backend has no threads to start ahead.
  const spares = options.startBackend === undefined && config.spareWorker ? WorkerBackend.spareWorkers() : undefined;
  const registry = await createModelRegistry({
    root: config.registryDir,
    repoRoot: config.repoRoot,
    pipeline: {
      imageLimits: { ...config.limits.image },
      autoOrient: config.autoOrient,
      ...(config.intraOpThreads === undefined ? {} : { intraOpThreads: config.intraOpThreads }),
      allowSpinning: config.intraOpSpinning,
    },
    startBackend: options.startBackend ?? ((dir, runtimeOptions) => WorkerBackend.start(dir, runtimeOptions, (message) => logger.warn({ variantDir: dir }, message), spares)),
    memoryBudgetBytes: config.models.memoryBudgetBytes,
    families: FAMILIES,
    pinned: config.models.pin,
    onEvent: (event) => {
      logRegistryEvent(logger, event);
      metrics?.observeRegistryEvent(event);
      options.onRegistryEvent?.(event);
    },
  });
  let shared: SharedState | undefined;
  let draining = false;
  let installs: InstallJobs | undefined;
  try {
    await registry.prepareEmbedded();
    spares?.prime();
    shared = await createSharedState(config, logger, () => metrics?.observeRateLimitFailOpen());
    const inference = createInferenceService(registry, {
      onBatch: (batch) => {
        logger.debug(batch, 'group dispatched');
        metrics?.observeBatch(batch);
      },
      onEncoderPass: (pass) => metrics?.observeEncoderPass(pass),
    });
    metrics = new GatewayMetrics({
      queueDepths: () => inference.queueDepths(),
      variants: () => registry.list(),
      embeddingCacheBytes: async () => {
        const entries = await Promise.all(
          registry.readyBackends().map(async ({ name, backend }) => [name, await backend.stats().then((s) => s.cache.bytes, () => 0)] as const),
        );
        return Object.fromEntries(entries);
      },
      ...(shared.redisHealth ? { redisHealth: shared.redisHealth } : {}),
      ...(spares ? { spareWorkerReady: () => spares.isReady() } : {}),
    });
    for (const name of config.models.preload) await registry.load(name);
    const { images } = shared;
    const loadImage = createImageLoader({ store: images, maxBytes: config.limits.image.maxBytes, fetch: config.imageFetch });
    installs = new InstallJobs({ ...config.hub, registryDir: config.registryDir }, async () => {
      await registry.rescan();
    });
    const served = config.hub.autoInstall ? withAutoInstall(registry, installs) : registry;
    const requests = createInferenceRequests(served, inference, loadImage, config.limits);
    const { httpServer, apollo } = await createGatewayHttpServer(
      { config, registry, requests, images, loadImage, redact: createPathRedactor([config.registryDir, config.repoRoot]), installs },
      {
        onUnexpectedError: (error) => logger.error({ err: error }, 'unexpected error (masked for the client)'),
        logger,
        metrics,
        ...(shared.rateLimiter ? { rateLimiter: shared.rateLimiter } : {}),
        readiness: { draining: () => draining, ...(shared.redisHealth ? { redis: shared.redisHealth } : {}) },
      },
    );

    httpServer.listen(config.port, config.host);
    await Promise.race([once(httpServer, 'listening'), once(httpServer, 'error').then(([error]) => Promise.reject(error))]);
    const { port } = httpServer.address() as AddressInfo;
    const url = `http://${urlHost(config.host)}:${port}`;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        try {
          await apollo.stop();
        } finally {
          await installs?.close();
          await shared?.close();
          await registry.close();
          await spares?.close();
        }
      })());
    const drain = () => {
      draining = true;
    };
    return { url, port, registry, drain, close };
  } catch (error) {
    await shared?.close();
    await installs?.close();
    await registry.close();
    await spares?.close();
    throw error;
  }
}

/** `npm start`: read the environment, start, and stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`blip-gateway: invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const logger = pino({ level: config.logLevel });
  let server: RunningServer;
  try {
    server = await startServer(config, { logger });
  } catch (error) {
    const message = error instanceof ServiceError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, `start-up failed: ${message}`);
    exit(logger, 1);
    return;
  }
  logger.info({ url: `${server.url}/graphql`, models: server.registry.list().map((m) => `${m.name}${m.installed ? '' : ' (not installed)'}`) }, 'blip-gateway is listening');

  // One stop per process: the signal may arrive twice (a process group's Ctrl-C reaches a launcher that relays it).
  // First /readyz turns 503 while the server keeps serving for `shutdownDrainMs` (the load balancer notices and stops
  // sending); then the listeners close and requests in flight get `shutdownTimeoutMs`; if stopping hangs beyond
  // that, the process exits anyway.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const { shutdownDrainMs } = config.fleet;
    server.drain();
    logger.info({ drainMs: shutdownDrainMs }, `${signal}: not ready; serving for the drain window, then finishing requests in flight and stopping`);
    setTimeout(() => {
      logger.error('stopping took too long: exiting');
      process.exit(1);
    }, shutdownDrainMs + config.shutdownTimeoutMs + 5000).unref();
    const drained = new Promise<void>((resolve) => setTimeout(resolve, shutdownDrainMs));
    drained.then(() => logger.info('drain window over: closing listeners')).then(() => server.close()).then(
      () => {
        logger.info('stopped');
        exit(logger, 0);
      },
      (error) => {
        logger.error({ err: error }, 'error while stopping');
        exit(logger, 1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Exits once the log is written (pino writes asynchronously). */
function exit(logger: Logger, code: number): void {
  setTimeout(() => process.exit(code), 1000).unref();
  logger.flush(() => process.exit(code));
}

function logRegistryEvent(logger: Logger, event: RegistryEvent): void {
  if (event.type === 'load-failed') logger.warn({ variant: event.variant, code: event.error.code, err: event.error }, 'model load failed');
  else if (event.type === 'worker-exited') logger.warn(event, 'inference worker exited');
  else logger.info(event, event.type);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return 'localhost';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) await main();
