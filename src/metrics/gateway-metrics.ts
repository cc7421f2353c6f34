import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestRecord } from '../gateway/request-record.ts';
import type { RegistryEvent } from '../registry/model-registry.ts';
import type { VariantInfo } from '../registry/types.ts';
import type { RedisHealth } from '../redis/redis-connection.ts';

/** What the gauges read when /metrics is scraped. */
export interface MetricsSources {
  queueDepths(): Record<string, number>;
  variants(): VariantInfo[];
  /** Bytes held by each loaded variant's image-embedding cache. */
  embeddingCacheBytes(): Promise<Record<string, number>>;
  /** The Redis connection, when REDIS_URL is set. */
  redisHealth?(): RedisHealth;
  /** Whether a spare inference worker has finished importing, when spare workers are on (SPARE_WORKER). */
  spareWorkerReady?(): boolean;
}

/** Seconds: from a cached 5 ms answer to a minute-long beam search on a large model. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];
const LOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds an item waits for admission: from none (an idle engine) to a queue of long beam searches. */
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The gateway's Prometheus metrics, in a registry of their own (not prom-client's global one, so that several
 * servers in one process — the tests — do not collide), with Node's default process metrics. Request metrics are
 * recorded once per finished HTTP request from its RequestRecord; model metrics from the engine's batch hook and the
 * registry's events; gauges are read from their sources at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'variant'>;
  private readonly duration: Histogram<'operation' | 'variant'>;
  private readonly errors: Counter<'operation' | 'code'>;
  private readonly batchSize: Histogram<'variant'>;
  private readonly encoderBatchSize: Histogram<'variant'>;
  private readonly loadSeconds: Histogram<'variant'>;
  private readonly loadFailures: Counter<'variant'>;
  private readonly tokens: Counter<'variant'>;
  private readonly embeddingCache: Counter<'variant' | 'result'>;
  private readonly queueSeconds: Histogram<'variant'>;
  private readonly rateLimitFailOpen: Counter;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'blip_requests_total', help: 'Operations served, by operation and variant (variant "none" when none was resolved)', labelNames: ['operation', 'variant'], registers });
    this.duration = new Histogram({
      name: 'blip_request_duration_seconds',
      help: 'Time from the start of an operation to its end, by operation and variant',
      labelNames: ['operation', 'variant'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({ name: 'blip_errors_total', help: 'Errors returned to clients, by operation (graphql/rest for request-level errors) and code', labelNames: ['operation', 'code'], registers });
    this.batchSize = new Histogram({
      name: 'blip_batch_size',
      help: 'Items per DataLoader batch dispatched to a variant (one group, admitted together in one encoder pass)',
      labelNames: ['variant'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.encoderBatchSize = new Histogram({
      name: 'blip_encoder_batch_size',
      help: 'Images per vision-encoder pass (distinct images of the admitted groups, embedding-cache hits and duplicates removed)',
      labelNames: ['variant'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.loadSeconds = new Histogram({ name: 'blip_model_load_seconds', help: 'Time to start a variant\'s worker and load its sessions', labelNames: ['variant'], buckets: LOAD_BUCKETS, registers });
    this.loadFailures = new Counter({ name: 'blip_model_load_failures_total', help: 'Failed variant loads', labelNames: ['variant'], registers });
    this.embeddingCache = new Counter({
      name: 'blip_embedding_cache_lookups_total',
      help: 'Image-embedding cache lookups of served items, by variant and result (hit: the vision encoder did not run)',
      labelNames: ['variant', 'result'],
      registers,
    });
    this.tokens = new Counter({ name: 'blip_tokens_generated_total', help: 'Tokens generated, as the engine counted them (the prompt excluded)', labelNames: ['variant'], registers });
    this.queueSeconds = new Histogram({
      name: 'blip_queue_seconds',
      help: 'Time a served item waited before the engine admitted it, per variant (an autoscaler signal with blip_queue_depth)',
      labelNames: ['variant'],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.rateLimitFailOpen = new Counter({
      name: 'blip_rate_limit_fail_open_total',
      help: 'Requests let through without a rate-limit check because the shared buckets (Redis) could not be reached',
      registers,
    });
    if (sources.redisHealth) {
      const health = sources.redisHealth.bind(sources);
      new Gauge({
        name: 'blip_redis_up',
        help: '1 while the connection to Redis (REDIS_URL) is ready, else 0',
        registers,
        collect() {
          this.set(health().status === 'ready' ? 1 : 0);
        },
      });
    }
    const spareWorkerReady = sources.spareWorkerReady;
    if (spareWorkerReady) {
      new Gauge({
        name: 'blip_spare_worker_ready',
        help: '1 while a spare inference worker has imported its modules and waits for the next load, else 0',
        registers,
        collect() {
          this.set(spareWorkerReady() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'blip_queue_depth',
      help: 'Requests accepted and not finished (queued or computing), per variant',
      labelNames: ['variant'],
      registers,
      collect() {
        this.reset();
        for (const [variant, depth] of Object.entries(sources.queueDepths())) this.set({ variant }, depth);
      },
    });
    new Gauge({
      name: 'blip_model_loaded',
      help: '1 when the variant\'s worker is ready, else 0',
      labelNames: ['variant'],
      registers,
      collect() {
        this.reset();
        for (const info of sources.variants()) if (info.installed) this.set({ variant: info.name }, info.state === 'ready' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'blip_embedding_cache_bytes',
      help: "Bytes held by each loaded variant's image-embedding cache",
      labelNames: ['variant'],
      registers,
      async collect() {
        const bytes = await sources.embeddingCacheBytes();
        this.reset();
        for (const [variant, value] of Object.entries(bytes)) this.set({ variant }, value);
      },
    });
    new Gauge({
      name: 'blip_models_loaded',
      help: 'Variants whose worker is ready',
      registers,
      collect() {
        this.set(sources.variants().filter((info) => info.state === 'ready').length);
      },
    });
  }

  /** The registry's events: load times and failures. */
  observeRegistryEvent(event: RegistryEvent): void {
    if (event.type === 'load-finished') this.loadSeconds.observe({ variant: event.variant }, event.durationMs / 1000);
    else if (event.type === 'load-failed') this.loadFailures.inc({ variant: event.variant });
  }

  /** A DataLoader batch dispatched to a variant. */
  observeBatch(event: { variant: string; size: number }): void {
    this.batchSize.observe({ variant: event.variant }, event.size);
  }

  /** A vision-encoder pass and how many images it took. */
  observeEncoderPass(event: { variant: string; images: number }): void {
    this.encoderBatchSize.observe({ variant: event.variant }, event.images);
  }

  /** A request let through because the shared rate-limit buckets could not be reached. */
  observeRateLimitFailOpen(): void {
    this.rateLimitFailOpen.inc();
  }

  /** A finished HTTP request: its operations, their errors, and the request-level errors. */
  observeRequest(record: RequestRecord, surface: 'graphql' | 'rest'): void {
    for (const op of record.operations) {
      const labels = { operation: op.operation, variant: op.variants.length > 0 ? op.variants.join('+') : 'none' };
      this.requests.inc(labels);
      this.duration.observe(labels, op.durationMs / 1000);
      for (const code of op.codes) this.errors.inc({ operation: op.operation, code });
      for (const item of op.served) {
        this.embeddingCache.inc({ variant: item.variant, result: item.cacheHit ? 'hit' : 'miss' });
        this.tokens.inc({ variant: item.variant }, item.generatedTokens);
        this.queueSeconds.observe({ variant: item.variant }, item.queueMs / 1000);
      }
    }
    for (const code of record.requestCodes) this.errors.inc({ operation: surface, code });
  }

  /** The Prometheus text format. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
