import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { RedisTokenBuckets } from '../gateway/redis-token-buckets.ts';
import type { RateLimiter } from '../gateway/token-bucket.ts';
import { MemoryImageStore, type ImageStore } from '../upload/image-store.ts';
import { RedisImageStore } from '../upload/redis-image-store.ts';
import { REDIS_TIMEOUTS, RedisConnection, type RedisHealth } from './redis-connection.ts';

/** What replicas share: the upload-once images and the rate-limit buckets. */
export interface SharedState {
  images: ImageStore;
  /** Undefined: the in-process buckets (no REDIS_URL, or rate limiting off). */
  rateLimiter: RateLimiter | undefined;
  /** Undefined without REDIS_URL. */
  redisHealth: (() => RedisHealth) | undefined;
  close(): Promise<void>;
}

/** At most one "failed open" warning per this period (the metric counts every request). */
const FAIL_OPEN_WARNING_EVERY_MS = 10_000;

/**
 * In process without REDIS_URL (as a single server always was); with it, the images and the buckets live in Redis.
 * The server starts even when Redis is down (it waits a few seconds for it first): requests that need no shared
 * state keep working, and the connection keeps being retried.
 */
export async function createSharedState(config: Config, logger: Logger, onRateLimitFailOpen: () => void): Promise<SharedState> {
  const { redisUrl, redisKeyPrefix: keyPrefix } = config.fleet;
  if (redisUrl === undefined) {
    const images = new MemoryImageStore(config.imageStore);
    return { images, rateLimiter: undefined, redisHealth: undefined, close: async () => images.close() };
  }
  const redis = new RedisConnection(redisUrl, {
    onStatusChange: (status, error) => {
      if (status === 'ready') logger.info({ redis: status }, 'redis connection ready');
      else logger.warn({ redis: status, err: error?.message }, 'redis unavailable: imageId and uploadImage fail with IMAGE_STORE_UNAVAILABLE, rate limiting fails open, reconnecting');
    },
  });
  if (!(await redis.connect(REDIS_TIMEOUTS.connectTimeoutMs + 1000))) logger.warn('redis is not reachable at start-up: starting anyway, reconnecting in the background');
  const { perMinute, burst } = config.rateLimit;
  let lastWarning = -Infinity;
  const rateLimiter =
    perMinute > 0
      ? new RedisTokenBuckets(redis.client, {
          perMinute,
          burst,
          keyPrefix,
          onFailOpen: (error) => {
            onRateLimitFailOpen();
            if (Date.now() - lastWarning < FAIL_OPEN_WARNING_EVERY_MS) return;
            lastWarning = Date.now();
            logger.warn({ err: (error as Error)?.message }, 'rate limit failed open: redis unavailable, requests are let through unchecked');
          },
        })
      : undefined;
  return {
    images: new RedisImageStore(redis.client, { ...config.imageStore, keyPrefix, retryAfterMs: REDIS_TIMEOUTS.maxReconnectDelayMs }),
    rateLimiter,
    redisHealth: () => redis.healthNow(),
    close: () => redis.close(),
  };
}
