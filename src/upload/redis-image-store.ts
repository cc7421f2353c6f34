import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ErrorCode, ServiceError } from '../errors.ts';
import { checkImageId, checkStorable, checkStoreOptions, unknownImageId, type ImageStore, type StoredImage } from './image-store.ts';

export interface RedisImageStoreOptions {
  maxBytes: number;
  maxImages: number;
  ttlMs: number;
  /** Prefix of every key (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  /** What IMAGE_STORE_UNAVAILABLE tells clients to wait: about how long reconnecting takes. */
  retryAfterMs: number;
}

/**
 * Shared Lua: the clock is Redis's own (TIME), so that replicas with skewed clocks agree on expiry. The index is a
 * sorted set of ids by last use (the LRU order, and the expiry order since the TTL is fixed), a hash of sizes and a
 * byte total; each image is its own key with the same TTL, so Redis frees it even if no call comes.
 * KEYS: lru zset, sizes hash, byte total. ARGV[1]: the image key prefix.
 */
const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forget(id)
  local size = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', ARGV[1] .. id)
  if size > 0 then redis.call('DECRBY', KEYS[3], size) end
end
local function expire(now, ttl)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl)) do forget(id) end
end
`;

/** ARGV: prefix, id, bytes, ttlMs, maxBytes, maxImages → expiresAt. */
const PUT = `${COMMON}
local now, id, ttl = now_ms(), ARGV[2], tonumber(ARGV[4])
local maxBytes, maxImages = tonumber(ARGV[5]), tonumber(ARGV[6])
expire(now, ttl)
local key = ARGV[1] .. id
if redis.call('HEXISTS', KEYS[2], id) == 1 and redis.call('PEXPIRE', key, ttl) == 1 then
  -- already stored: refreshed
else
  forget(id)
  local size = string.len(ARGV[3])
  redis.call('SET', key, ARGV[3], 'PX', ttl)
  redis.call('HSET', KEYS[2], id, size)
  redis.call('INCRBY', KEYS[3], size)
end
redis.call('ZADD', KEYS[1], now, id)
local total, count = tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('ZCARD', KEYS[1])
while total > maxBytes or count > maxImages do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 1)
  local victim = oldest[1]
  if victim == id then victim = oldest[2] end
  if not victim then break end
  forget(victim)
  total, count = tonumber(redis.call('GET', KEYS[3]) or '0'), count - 1
end
return now + ttl
`;

/** ARGV: prefix, id, ttlMs → {bytes, expiresAt} or nil. */
const GET = `${COMMON}
local now, id, ttl = now_ms(), ARGV[2], tonumber(ARGV[3])
expire(now, ttl)
if redis.call('HEXISTS', KEYS[2], id) == 0 then return false end
local key = ARGV[1] .. id
local data = redis.call('GET', key)
if not data then
  forget(id)
  return false
end
redis.call('PEXPIRE', key, ttl)
redis.call('ZADD', KEYS[1], now, id)
return {data, now + ttl}
`;

/** ARGV: prefix → {images, bytes} after expiry. */
const STATS = `${COMMON}
local now = now_ms()
expire(now, tonumber(ARGV[2]))
return {redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[3]) or '0')}
`;

interface ImageCommands {
  blipImagePut(lru: string, sizes: string, total: string, prefix: string, id: string, bytes: Buffer, ttlMs: number, maxBytes: number, maxImages: number): Promise<number>;
  blipImageGetBuffer(lru: string, sizes: string, total: string, prefix: string, id: string, ttlMs: number): Promise<[Buffer, number] | null>;
  blipImageStats(lru: string, sizes: string, total: string, prefix: string, ttlMs: number): Promise<[number, number]>;
}

/**
 * The image store in Redis (REDIS_URL): an id uploaded through any replica works on every replica. Same semantics as
 * MemoryImageStore — sliding TTL, caps on bytes and count, least recently used out first — each call one atomic
 * script. When Redis cannot be reached the calls fail within the connection's timeouts with
 * IMAGE_STORE_UNAVAILABLE and `retryAfterMs` (the id is not wrong, the store is away).
 */
export class RedisImageStore implements ImageStore {
  private readonly commands: ImageCommands;
  private readonly keys: [string, string, string];
  private readonly imagePrefix: string;

  constructor(
    redis: Redis,
    private readonly options: RedisImageStoreOptions,
  ) {
    checkStoreOptions(options);
    const define = (name: string, lua: string) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 3, lua });
    };
    define('blipImagePut', PUT);
    define('blipImageGet', GET);
    define('blipImageStats', STATS);
    this.commands = redis as unknown as ImageCommands;
    const prefix = options.keyPrefix;
    this.keys = [`${prefix}images:lru`, `${prefix}images:sizes`, `${prefix}images:bytes`];
    this.imagePrefix = `${prefix}image:`;
  }

  async put(bytes: Uint8Array): Promise<StoredImage> {
    checkStorable(bytes, this.options.maxBytes);
    const id = createHash('sha256').update(bytes).digest('hex');
    const { ttlMs, maxBytes, maxImages } = this.options;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const expiresAt = await this.call(() => this.commands.blipImagePut(...this.keys, this.imagePrefix, id, buffer, ttlMs, maxBytes, maxImages));
    return { id, bytes: bytes.length, expiresAt: Number(expiresAt) };
  }

  async get(id: string): Promise<Uint8Array> {
    checkImageId(id);
    const found = await this.call(() => this.commands.blipImageGetBuffer(...this.keys, this.imagePrefix, id, this.options.ttlMs));
    if (!found) throw unknownImageId(id);
    // A copy the caller owns outright (ioredis' buffers may share a pool; callers transfer the bytes to a worker).
    return new Uint8Array(found[0]);
  }

  /** Images and bytes held in Redis now (tests, operators). */
  async stats(): Promise<{ images: number; bytes: number }> {
    const [images, bytes] = await this.call(() => this.commands.blipImageStats(...this.keys, this.imagePrefix, this.options.ttlMs));
    return { images: Number(images), bytes: Number(bytes) };
  }

  /** The images stay in Redis for the other replicas; the connection is closed by its owner. */
  close(): void {}

  // Private: a Redis failure (not connected, timed out, refused) becomes IMAGE_STORE_UNAVAILABLE.
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      const { retryAfterMs } = this.options;
      throw new ServiceError(ErrorCode.IMAGE_STORE_UNAVAILABLE, `The image store (Redis) is unavailable; retry after ${retryAfterMs} ms, or send the image itself (base64, upload or url)`, {
        cause,
        details: { retryAfterMs },
      });
    }
  }
}
