import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage } from '../../helpers/fixtures.ts';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.ts';
import { createTempRegistry, type TempRegistry } from '../../helpers/temp-registry.ts';
import { getJson, metricValue, postJson, sleep, startBalancer, startReplica, waitUntil, type Balancer, type HttpOutcome, type Replica } from './fleet-harness.ts';

/**
 * Three real gateway processes (`npm start`'s command) sharing a real redis-server, behind Debian's haproxy doing
 * round-robin with health checks on /readyz. The tests run in order on one fleet: ids across replicas, the shared
 * rate limit, a Redis outage, SIGTERM on one replica, SIGKILL on another. Timings measured here are printed with the
 * `[fleet]` prefix (see /work/notes/fleet.md).
 */
const HAPROXY_SOURCE = '127.0.0.2';
const RATE_CLIENT = '127.0.0.5';
const DRAIN_MS = 3000;
const CHECK_INTERVAL_MS = 200;

const UPLOAD = 'mutation($image: ImageInput!) { uploadImage(image: $image) { id bytes } }';
const ANSWER = 'mutation($input: AnswerInput!) { answer(input: $input) { answer model } }';
const LIMITS = '{ limits { maxBatchItems } }';

const gradient = Buffer.from(readImage('gradient_64x48.png')).toString('base64');
const solid = Buffer.from(readImage('solid_20x20.jpg')).toString('base64');
const question = { question: 'what is in the picture?', options: { maxNewTokens: 6 } };
/** An answer that keeps the tiny model busy for a while: 8 beams, 60 tokens. */
const slowAnswer = { image: { base64: gradient }, question: 'what is it?', options: { numBeams: 8, minLength: 60, maxLength: 60 } };

/** Every traffic request comes from its own loopback address, so that only the rate-limit test meets the limit. */
let clients = 0;
const nextClient = () => {
  const n = clients++;
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
};

const note = (what: string, value: unknown) => console.log(`[fleet] ${what}: ${JSON.stringify(value)}`);
const servedBy = (outcome: HttpOutcome) => String(outcome.headers['x-served-by'] ?? '');
const errorCode = (outcome: HttpOutcome) => outcome.body?.errors?.[0]?.extensions?.code;

describe('a fleet of replicas behind haproxy, sharing Redis', () => {
  let scratch: string;
  let redis: RedisServer;
  let registry: TempRegistry;
  let replicas: Replica[] = [];
  let balancer: Balancer;
  const gql = (query: string, variables: unknown, options: { localAddress?: string; headers?: Record<string, string>; timeoutMs?: number } = {}) =>
    postJson(`${balancer.url}/graphql`, { query, variables }, { localAddress: options.localAddress ?? nextClient(), ...options });
  /** The replica whose log holds the request (its line is written when the response is finished). */
  const replicaOf = async (outcome: HttpOutcome): Promise<string> => {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const found = replicas.find((replica) => replica.requestIds().has(outcome.requestId));
      if (found) return found.name;
      await sleep(20);
    }
    return 'none';
  };
  /** Runs `loops` clients that send `send()` one after another until `stop` resolves; returns every outcome. */
  const traffic = async (loops: number, send: () => Promise<HttpOutcome>, stop: Promise<void>) => {
    const outcomes: Array<HttpOutcome & { startedAt: number }> = [];
    let stopped = false;
    void stop.then(() => (stopped = true));
    await Promise.all(
      Array.from({ length: loops }, async () => {
        while (!stopped) {
          const startedAt = Date.now();
          outcomes.push({ ...(await send()), startedAt });
        }
      }),
    );
    return outcomes;
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'blip-fleet-'));
    redis = await startRedisServer();
    // The tiny VQA fixture model, converted once and shared by every replica (read-only). One model per replica
    // keeps three replicas starting together affordable on a small machine.
    registry = await createTempRegistry();
    await registry.install('tiny-vqa', 'vqa');
    await writeFile(
      join(registry.root, 'tiny-vqa', 'variant.json'),
      JSON.stringify({ name: 'tiny-vqa', task: 'vqa', description: 'tiny VQA model for the fleet test', default: true, source: { checkpoint: 'checkpoints/vqa' } }),
    );
    const env = {
      REPO_ROOT: registry.repoRoot,
      REGISTRY_DIR: registry.root,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'fleet-test:',
      TRUST_PROXY: HAPROXY_SOURCE,
      // Explicit, whatever the default: 6 at once, then one every 10 s.
      RATE_LIMIT_PER_MINUTE: '6',
      RATE_LIMIT_BURST: '6',
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_TIMEOUT_MS: '20000',
      INTRA_OP_THREADS: '1',
      INTRA_OP_SPINNING: 'false',
      PRELOAD_MODELS: 'tiny-vqa',
    };
    const started = await Promise.allSettled(['r1', 'r2', 'r3'].map((name) => startReplica(name, env)));
    replicas = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    balancer = await startBalancer(scratch, replicas, { sourceAddress: HAPROXY_SOURCE, checkIntervalMs: CHECK_INTERVAL_MS });
  });

  afterAll(async () => {
    for (const replica of replicas) if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((replica) => replica.exited));
    await balancer?.stop();
    await redis?.cleanup();
    await registry?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let reference: HttpOutcome;
  let gradientId: string;

  it('an image uploaded through the balancer is answered by id on every replica, identically', async () => {
    reference = await gql(ANSWER, { input: { image: { base64: gradient }, ...question } });
    expect(reference.status).toBe(200);
    expect(reference.body.errors).toBeUndefined();
    const upload = await gql(UPLOAD, { image: { base64: gradient } });
    expect(upload.body).toEqual({ data: { uploadImage: { id: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: readImage('gradient_64x48.png').length } } });
    const id = upload.body.data.uploadImage.id;
    gradientId = id;
    const answers: HttpOutcome[] = [];
    for (let i = 0; i < 6; i++) answers.push(await gql(ANSWER, { input: { image: { imageId: id }, ...question } }));
    for (const answer of answers) expect(answer.body).toEqual(reference.body);
    const byLog = await Promise.all(answers.map(replicaOf));
    // The logs' request ids and haproxy's header agree, and round-robin spread the answers over all three replicas.
    expect(byLog).toEqual(answers.map(servedBy));
    expect(new Set(byLog)).toEqual(new Set(['r1', 'r2', 'r3']));
    note('imageId answers served by', byLog);
  });

  it('one rate limit for a client across replicas, keyed by the address haproxy saw (X-Forwarded-For from it only)', async () => {
    const outcomes: HttpOutcome[] = [];
    for (let i = 0; i < 9; i++) outcomes.push(await gql(LIMITS, {}, { localAddress: RATE_CLIENT }));
    expect(outcomes.map((outcome) => outcome.status)).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429]);
    expect(new Set(outcomes.slice(0, 6).map(servedBy)).size).toBe(3);
    for (const refused of outcomes.slice(6)) {
      expect(refused.body).toEqual({ errors: [{ message: expect.stringMatching(/^Too many requests from this client; retry after \d+ ms$/), extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } }] });
    }
    // A forged X-Forwarded-For does not give the client a fresh bucket: haproxy appends the real address.
    const forged = await gql(LIMITS, {}, { localAddress: RATE_CLIENT, headers: { 'x-forwarded-for': '198.51.100.77' } });
    expect(forged.status).toBe(429);
    const logged = replicas.flatMap((replica) => replica.logs).filter((line) => line.requestId === outcomes[0].requestId);
    expect(logged).toEqual([expect.objectContaining({ clientIp: RATE_CLIENT })]);
  });

  it('Redis stopped: imageId and uploads fail fast with IMAGE_STORE_UNAVAILABLE, the rest works, rate limit fails open; back within seconds', async () => {
    const solidId = (await gql(UPLOAD, { image: { base64: solid } })).body.data.uploadImage.id;
    await redis.stop('SIGKILL');
    const byId: HttpOutcome[] = [];
    for (let i = 0; i < 3; i++) byId.push(await gql(ANSWER, { input: { image: { imageId: solidId }, ...question } }));
    for (const outcome of byId) {
      expect(outcome.status).toBe(200);
      expect(outcome.body.data).toBeNull();
      expect(outcome.body.errors).toHaveLength(1);
      expect(outcome.body.errors[0]).toMatchObject({
        message: 'The image store (Redis) is unavailable; retry after 1000 ms, or send the image itself (base64, upload or url)',
        path: ['answer'],
        extensions: { code: 'IMAGE_STORE_UNAVAILABLE', retryAfterMs: 1000 },
      });
      expect(outcome.ms).toBeLessThan(5000);
    }
    expect(new Set(byId.map(servedBy)).size).toBe(3);
    const upload = await gql(UPLOAD, { image: { base64: gradient } });
    expect(errorCode(upload)).toBe('IMAGE_STORE_UNAVAILABLE');
    expect(upload.ms).toBeLessThan(5000);
    // Requests that carry their image do not need Redis.
    for (let i = 0; i < 3; i++) expect((await gql(ANSWER, { input: { image: { base64: gradient }, ...question } })).body).toEqual(reference.body);
    // The client that used up its bucket is let through: the limit fails open while its buckets are unreachable.
    const open: HttpOutcome[] = [];
    for (let i = 0; i < 3; i++) open.push(await gql(LIMITS, {}, { localAddress: RATE_CLIENT }));
    expect(open.map((outcome) => outcome.status)).toEqual([200, 200, 200]);
    const failOpen = await Promise.all(replicas.map((replica) => metricValue(replica.url, 'blip_rate_limit_fail_open_total')));
    expect(failOpen.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(3);
    expect(await Promise.all(replicas.map((replica) => metricValue(replica.url, 'blip_redis_up')))).toEqual([0, 0, 0]);
    const warned = replicas.filter((replica) => replica.logs.some((line) => line.level === 40 && line.msg.startsWith('rate limit failed open')));
    expect(warned.length).toBeGreaterThanOrEqual(1);
    // Still ready (Redis is shared: taking every replica out would stop everything), with Redis reported.
    for (const replica of replicas) {
      const ready = await getJson(`${replica.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.body.redis).toMatchObject({ status: 'unavailable' });
    }
    expect(Object.values(await balancer.serverStatus())).toEqual(['UP', 'UP', 'UP']);
    note('outage: imageId failure latency ms', byId.map((outcome) => Math.round(outcome.ms)));

    await redis.start();
    const healMs = await waitUntil('uploadImage works again', async () => errorCode(await gql(UPLOAD, { image: { base64: solid } })) === undefined, 5000);
    const allReadyMs = await waitUntil(
      'every replica reconnected',
      async () => (await Promise.all(replicas.map((replica) => getJson(`${replica.url}/readyz`)))).every((ready) => ready.body.redis?.status === 'ready'),
      5000,
    );
    note('redis restart → first upload ok (ms)', healMs);
    note('→ every replica reconnected (further ms)', allReadyMs);
    const after: HttpOutcome[] = [];
    for (let i = 0; i < 4; i++) after.push(await gql(ANSWER, { input: { image: { imageId: solidId }, ...question } }));
    expect(after.map((outcome) => outcome.body.errors)).toEqual([undefined, undefined, undefined, undefined]);
    expect(new Set(after.map((outcome) => outcome.body.data.answer.answer)).size).toBe(1);
    expect(new Set(after.map(servedBy)).size).toBeGreaterThanOrEqual(2);
    // This Redis keeps nothing across a restart: ids uploaded before it are unknown (upload again), as documented.
    const lost = await gql(ANSWER, { input: { image: { imageId: gradientId }, ...question } });
    expect(lost.body.errors[0]).toMatchObject({ message: `Unknown or expired imageId ${gradientId}: upload the image again`, extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('SIGTERM on a replica: /readyz turns 503 at once, haproxy stops sending, requests in flight finish, no client sees an error', async () => {
    const victim = replicas[2];
    let stopTraffic!: () => void;
    const running = traffic(4, () => gql(ANSWER, { input: slowAnswer }, { timeoutMs: 30_000 }), new Promise<void>((resolve) => (stopTraffic = resolve)));
    await waitUntil('a request in flight on the victim', async () => (await balancer.serverSessions())[victim.name] > 0, 20_000);
    const signalledAt = Date.now();
    victim.child.kill('SIGTERM');
    // At once: as soon as the process has handled the signal (well before the drain window ends).
    let ready = { status: 0, body: undefined as any };
    const readyMs = await waitUntil('/readyz turns 503', async () => (ready = await getJson(`${victim.url}/readyz`)).status === 503, 1000);
    expect(ready.body.status).toBe('draining');
    await waitUntil('haproxy marks the victim down', async () => (await balancer.serverStatus())[victim.name] !== 'UP', DRAIN_MS);
    const downMs = Date.now() - signalledAt;
    const [code] = await victim.exited;
    const exitMs = Date.now() - signalledAt;
    await sleep(300);
    stopTraffic();
    const outcomes = await running;
    expect(code).toBe(0);
    expect(outcomes.filter((outcome) => outcome.status !== 200 || outcome.body?.errors !== undefined)).toEqual([]);
    // Readiness flipped, and haproxy noticed, before the listener closed at the end of the drain window.
    const closing = victim.logs.find((line) => line.msg === 'drain window over: closing listeners')!;
    expect(closing.time - signalledAt).toBeGreaterThanOrEqual(DRAIN_MS - 20);
    expect(downMs).toBeLessThan(closing.time - signalledAt);
    // The requests it had in flight (and any it accepted while draining) finished there, successfully.
    const finishedAfter = victim.logs.filter((line) => line.msg === 'request' && line.path === '/graphql' && line.time > signalledAt);
    expect(finishedAfter.length).toBeGreaterThan(0);
    expect(finishedAfter.every((line) => line.status === 200)).toBe(true);
    note('SIGTERM timings (ms)', { readyz503: readyMs, haproxyDown: downMs, listenersClosed: closing.time - signalledAt, exited: exitMs });
    note('SIGTERM traffic', { requests: outcomes.length, finishedOnVictimAfterSignal: finishedAfter.length, slowestMs: Math.round(Math.max(...outcomes.map((o) => o.ms))) });
  });

  it('SIGKILL on a replica mid-traffic: in-flight requests are retried by haproxy or fail fast, the others see no error, nothing hangs', async () => {
    const victim = replicas[1];
    let stopTraffic!: () => void;
    const running = traffic(4, () => gql(ANSWER, { input: slowAnswer }, { timeoutMs: 30_000 }), new Promise<void>((resolve) => (stopTraffic = resolve)));
    await waitUntil('a request in flight on the victim', async () => (await balancer.serverSessions())[victim.name] > 0, 20_000);
    const inFlight = (await balancer.serverSessions())[victim.name];
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    const downMs = await waitUntil('haproxy marks the victim down', async () => (await balancer.serverStatus())[victim.name] !== 'UP', 5000);
    await sleep(1500);
    stopTraffic();
    const outcomes = await running;
    expect(outcomes.filter((outcome) => outcome.error === 'TIMEOUT')).toEqual([]);
    const failed = outcomes.filter((outcome) => outcome.status !== 200 || outcome.body?.errors !== undefined);
    // Only requests that were on the dead replica may fail, and they fail fast (no waiting for a timeout).
    expect(failed.length).toBeLessThanOrEqual(inFlight);
    for (const outcome of failed) expect(outcome.startedAt + outcome.ms - killedAt).toBeLessThan(5000);
    const survivors = outcomes.filter((outcome) => outcome.startedAt > killedAt + downMs);
    expect(survivors.length).toBeGreaterThan(0);
    expect(survivors.every((outcome) => outcome.status === 200 && servedBy(outcome) === replicas[0].name)).toBe(true);
    note('SIGKILL', {
      inFlightOnVictim: inFlight,
      haproxyDownMs: downMs,
      requests: outcomes.length,
      failed: failed.map((outcome) => ({ status: outcome.status, error: outcome.error, ms: Math.round(outcome.ms) })),
      slowestMs: Math.round(Math.max(...outcomes.map((o) => o.ms))),
    });
  });
});
