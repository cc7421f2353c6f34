import type { Redis } from 'ioredis';
import type { RateLimiter } from './token-bucket.ts';

/**
 * The token bucket of TokenBuckets, in Redis, so that every replica spends from the same bucket. One script per
 * request reads, refills, takes and writes the bucket atomically, on Redis's clock (TIME). A bucket key expires once
 * it would have refilled completely, which carries no information (the same rule as the in-process sweep).
 * KEYS[1]: the client's bucket. ARGV: tokens per ms, burst → 0 when granted, else ms until a token is available.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local perMs, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * perMs)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs) end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'updated', string.format('%.3f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + 1000)
return wait
`;

interface BucketCommands {
  blipRateTake(key: string, perMs: string, burst: number): Promise<number>;
}

export interface RedisTokenBucketsOptions {
  perMinute: number;
  burst: number;
  /** Prefix of every key (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  /**
   * Redis could not be asked: the request is let through (rate limiting fails open, so that an outage of shared
   * state does not refuse every client) and this is called, for the warning log line and the metric.
   */
  onFailOpen: (error: unknown) => void;
}

export class RedisTokenBuckets implements RateLimiter {
  private readonly commands: BucketCommands;
  private readonly perMs: number;

  constructor(
    redis: Redis,
    private readonly options: RedisTokenBucketsOptions,
  ) {
    if (!(options.perMinute > 0)) throw new RangeError(`Expected a positive number for perMinute but received ${options.perMinute}`);
    if (!(options.burst >= 1)) throw new RangeError(`Expected at least 1 for burst but received ${options.burst}`);
    if (!('blipRateTake' in redis)) redis.defineCommand('blipRateTake', { numberOfKeys: 1, lua: TAKE });
    this.commands = redis as unknown as BucketCommands;
    this.perMs = options.perMinute / 60_000;
  }

  async take(key: string): Promise<number> {
    try {
      return Number(await this.commands.blipRateTake(`${this.options.keyPrefix}ratelimit:${key}`, String(this.perMs), this.options.burst));
    } catch (error) {
      this.options.onFailOpen(error);
      return 0;
    }
  }
}
