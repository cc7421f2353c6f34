import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenBuckets } from '../../../src/gateway/redis-token-buckets.ts';
import { RedisConnection } from '../../../src/redis/redis-connection.ts';
import { RedisImageStore } from '../../../src/upload/redis-image-store.ts';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.ts';

/**
 * The shared state against a real redis-server: the image store keeps MemoryImageStore's semantics across clients,
 * the token bucket is one bucket for every client, and an outage fails fast and heals by itself.
 */
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('shared state in Redis', () => {
  let redis: RedisServer;
  const connections: RedisConnection[] = [];
  let prefixes = 0;
  const connection = async () => {
    const conn = new RedisConnection(redis.url);
    connections.push(conn);
    expect(await conn.connect(5000)).toBe(true);
    return conn;
  };
  /** Two stores on two connections (two replicas) sharing one key prefix. */
  const stores = async (options: { maxBytes?: number; maxImages?: number; ttlMs?: number } = {}) => {
    const keyPrefix = `test${++prefixes}:`;
    const settings = { maxBytes: 100, maxImages: 10, ttlMs: 60_000, keyPrefix, retryAfterMs: 1000, ...options };
    return [new RedisImageStore((await connection()).client, settings), new RedisImageStore((await connection()).client, settings)] as const;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(connections.map((conn) => conn.close()));
    await redis?.cleanup();
  });

  it('stores by content hash; an id stored through one client is read through another', async () => {
    const [a, b] = await stores();
    const image = bytes(10, 1);
    const before = Date.now();
    const stored = await a.put(image);
    expect(stored.id).toBe(sha(image));
    expect(stored.bytes).toBe(10);
    expect(stored.expiresAt).toBeGreaterThanOrEqual(before + 60_000 - 50);
    expect(stored.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000 + 50);
    expect(await b.get(stored.id)).toEqual(image);
    expect((await b.put(bytes(10, 1))).id).toBe(stored.id);
    expect(await a.stats()).toEqual({ images: 1, bytes: 10 });
  });

  it('refuses malformed and unknown ids, empty and oversized images, like the in-memory store', async () => {
    const [a] = await stores();
    await expect(a.get('../etc/passwd')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: 'Expected an imageId returned by uploadImage (64 hex digits) but received "../etc/passwd"' });
    const unknown = sha(bytes(3, 3));
    await expect(a.get(unknown)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: `Unknown or expired imageId ${unknown}: upload the image again` });
    await expect(a.put(new Uint8Array(0))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(a.put(bytes(101, 1))).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', details: { bytes: 101, maxBytes: 100 } });
  });

  it('evicts the least recently used images to stay within bytes and count (a read counts as a use)', async () => {
    const [a, b] = await stores({ maxBytes: 100, maxImages: 3 });
    const [one, two, three] = [bytes(30, 1), bytes(30, 2), bytes(30, 3)];
    for (const image of [one, two, three]) await a.put(image);
    await sleep(5);
    await b.get(sha(one)); // one is now the most recent: two is the oldest
    await sleep(5);
    await a.put(bytes(20, 4)); // 4 images > 3: two goes
    await expect(b.get(sha(two))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await a.stats()).toEqual({ images: 3, bytes: 80 });
    await sleep(5);
    await a.put(bytes(60, 5)); // 140 bytes > 100: three (30) and one (30) go, oldest first → 80
    expect(await a.stats()).toEqual({ images: 2, bytes: 80 });
    await expect(a.get(sha(three))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(a.get(sha(one))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await b.get(sha(bytes(20, 4)))).toEqual(bytes(20, 4));
  });

  it('forgets an image ttl after its last use (sliding, on Redis time)', async () => {
    const [a, b] = await stores({ ttlMs: 400 });
    const { id } = await a.put(bytes(10, 7));
    await sleep(250);
    await b.get(id); // refreshed
    await sleep(250);
    expect(await a.get(id)).toEqual(bytes(10, 7)); // 500 ms after the upload, 250 after the last use
    await sleep(450);
    await expect(b.get(id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await a.stats()).toEqual({ images: 0, bytes: 0 });
  });

  it('shares one token bucket between clients', async () => {
    const options = { perMinute: 60, burst: 3, keyPrefix: `test${++prefixes}:`, onFailOpen: () => expect.unreachable('Redis is up') };
    const a = new RedisTokenBuckets((await connection()).client, options);
    const b = new RedisTokenBuckets((await connection()).client, options);
    expect([await a.take('10.0.0.1'), await b.take('10.0.0.1'), await a.take('10.0.0.1')]).toEqual([0, 0, 0]);
    const wait = await b.take('10.0.0.1');
    expect(wait).toBeGreaterThan(900);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(await a.take('10.0.0.2')).toBe(0); // another client has its own bucket
  });

  it('fails fast while Redis is down (IMAGE_STORE_UNAVAILABLE, rate limit open) and heals without a new client', async () => {
    const [a] = await stores();
    const conn = connections.at(-2)!;
    const { id } = await a.put(bytes(10, 9));
    const failOpen: unknown[] = [];
    const buckets = new RedisTokenBuckets(conn.client, { perMinute: 60, burst: 1, keyPrefix: `test${++prefixes}:`, onFailOpen: (error) => failOpen.push(error) });
    await redis.stop('SIGKILL');
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await expect(a.get(id)).rejects.toMatchObject({ code: 'IMAGE_STORE_UNAVAILABLE', details: { retryAfterMs: 1000 } });
      await expect(a.put(bytes(5, 5))).rejects.toMatchObject({ code: 'IMAGE_STORE_UNAVAILABLE' });
      expect(await buckets.take('10.0.0.3')).toBe(0);
      expect(performance.now() - started).toBeLessThan(5000);
      await sleep(200);
    }
    expect(failOpen).toHaveLength(3);
    expect(conn.healthNow().status).toBe('unavailable');
    await redis.start();
    const restarted = performance.now();
    let healed = false;
    while (!healed && performance.now() - restarted < 5000) {
      healed = await a.put(bytes(10, 9)).then(() => true, () => false);
      if (!healed) await sleep(100);
    }
    expect(healed).toBe(true);
    expect(conn.healthNow().status).toBe('ready');
    expect(await a.get(id)).toEqual(bytes(10, 9));
    expect(await buckets.take('10.0.0.3')).toBe(0);
    expect(await buckets.take('10.0.0.3')).toBeGreaterThan(0);
  });

  it('a Redis that hangs (connected, silent) fails the call after the command timeout, well within 5 s', async () => {
    const [a] = await stores();
    const { id } = await a.put(bytes(10, 11));
    redis.pause();
    try {
      const started = performance.now();
      await expect(a.get(id)).rejects.toMatchObject({ code: 'IMAGE_STORE_UNAVAILABLE' });
      const ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(1900);
      expect(ms).toBeLessThan(5000);
    } finally {
      redis.resume();
    }
    let back = false;
    const resumed = performance.now();
    while (!back && performance.now() - resumed < 5000) back = await a.get(id).then(() => true, () => false);
    expect(back).toBe(true);
  });

  it('a client started while Redis is down keeps trying, and works once Redis is up', async () => {
    await redis.stop('SIGKILL');
    const conn = new RedisConnection(redis.url);
    connections.push(conn);
    const started = performance.now();
    expect(await conn.connect(1000)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1500);
    const store = new RedisImageStore(conn.client, { maxBytes: 100, maxImages: 10, ttlMs: 60_000, keyPrefix: `test${++prefixes}:`, retryAfterMs: 1000 });
    await expect(store.put(bytes(4, 4))).rejects.toMatchObject({ code: 'IMAGE_STORE_UNAVAILABLE' });
    await redis.start();
    const restarted = performance.now();
    while (conn.healthNow().status !== 'ready' && performance.now() - restarted < 5000) await sleep(50);
    expect(conn.healthNow().status).toBe('ready');
    expect((await store.put(bytes(4, 4))).id).toBe(sha(bytes(4, 4)));
  });
});
