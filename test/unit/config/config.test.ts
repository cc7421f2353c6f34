import { homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, REPO_ROOT } from '../../../src/config/config.ts';

describe('loadConfig', () => {
  it('has documented defaults: port 4000 on all interfaces, the repository registry, safe limits', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      production: false,
      host: '0.0.0.0',
      port: 4000,
      repoRoot: resolve(REPO_ROOT),
      registryDir: join(REPO_ROOT, 'registry'),
      introspection: true,
      landingPage: true,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      intraOpThreads: undefined,
      intraOpSpinning: true,
      spareWorker: true,
      autoOrient: true,
      limits: {
        bodyBytes: 32 * 1024 * 1024,
        image: { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 },
        questionChars: 500,
        promptChars: 500,
        batchItems: 32,
        queryDepth: 10,
        queryFields: 200,
        queryTokens: 20_000,
      },
      imageStore: { maxBytes: 256 * 1024 * 1024, maxImages: 1000, ttlMs: 600_000 },
      imageFetch: { allowedHosts: [], timeoutMs: 10_000, allowPrivateAddresses: false },
      rateLimit: { perMinute: 0, burst: 60 },
      adminApiKey: undefined,
      models: { memoryBudgetBytes: Math.floor(totalmem() * 0.75), preload: [], pin: [] },
      fleet: { redisUrl: undefined, redisKeyPrefix: 'blip-gateway:', trustProxy: false, shutdownDrainMs: 0 },
      cors: { anyOrigin: true, origins: [] },
      streams: { connectionsPerClient: 8, subscriptionsPerClient: 16 },
      hub: { endpoint: 'https://huggingface.co', token: undefined, offline: false, cacheDir: join(homedir(), '.cache', 'huggingface', 'hub'), autoInstall: false },
    });
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits.image)).toBe(true);
    expect(Object.isFrozen(config.imageFetch.allowedHosts)).toBe(true);
  });

  it('reads overrides; empty values count as unset', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MAX_BATCH_ITEMS: '4',
      IMAGE_URL_ALLOWED_HOSTS: 'Images.Example.com, *.cdn.example.org',
      REGISTRY_DIR: 'other',
      LOG_LEVEL: '',
      INTRA_OP_SPINNING: 'off',
      SPARE_WORKER: 'false',
    });
    expect(config).toMatchObject({ port: 0, host: '127.0.0.1', registryDir: join(REPO_ROOT, 'other'), logLevel: 'info', limits: { batchItems: 4 }, intraOpSpinning: false, spareWorker: false });
    expect(config.imageFetch.allowedHosts).toEqual(['images.example.com', '*.cdn.example.org']);
  });

  it('reads the operations settings: rate limit, admin key, memory budget, preloaded and pinned models', () => {
    const config = loadConfig({
      RATE_LIMIT_PER_MINUTE: '120',
      RATE_LIMIT_BURST: '5',
      ADMIN_API_KEY: 'k'.repeat(16),
      MODEL_MEMORY_BUDGET_BYTES: '1000',
      PRELOAD_MODELS: 'blip-tiny, blip-tiny-vqa',
      PIN_MODELS: 'blip-tiny',
      IMAGE_URL_ALLOW_PRIVATE: 'true',
    });
    expect(config).toMatchObject({
      rateLimit: { perMinute: 120, burst: 5 },
      adminApiKey: 'k'.repeat(16),
      models: { memoryBudgetBytes: 1000, preload: ['blip-tiny', 'blip-tiny-vqa'], pin: ['blip-tiny'] },
      imageFetch: { allowPrivateAddresses: true },
    });
    expect(() => loadConfig({ ADMIN_API_KEY: 'short' })).toThrow('Expected a key of at least 16 characters for ADMIN_API_KEY but received "5 characters"');
    expect(() => loadConfig({ PRELOAD_MODELS: 'a b' })).toThrow('Expected a comma-separated list of model names for PRELOAD_MODELS but received "a b"');
  });

  it('production: no landing page, introspection off unless asked for', () => {
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({ production: true, landingPage: false, introspection: false });
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' })).toMatchObject({ landingPage: false, introspection: true });
  });

  it('CORS: any origin outside production; in production the listed origins plus Apollo Studio while introspection is on', () => {
    const studio = ['https://studio.apollographql.com', 'https://sandbox.embed.apollographql.com', 'https://explorer.embed.apollographql.com'];
    expect(loadConfig({}).cors).toEqual({ anyOrigin: true, origins: [] });
    expect(loadConfig({ NODE_ENV: 'production' }).cors).toEqual({ anyOrigin: false, origins: [] });
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).cors).toEqual({ anyOrigin: false, origins: studio });
    expect(loadConfig({ NODE_ENV: 'production', CORS_ORIGINS: 'https://App.example.com/, http://localhost:5173' }).cors).toEqual({
      anyOrigin: false,
      origins: ['https://app.example.com', 'http://localhost:5173'],
    });
    expect(loadConfig({ CORS_ORIGINS: 'http://localhost:5173' }).cors).toEqual({ anyOrigin: false, origins: ['http://localhost:5173', ...studio] });
    expect(loadConfig({ NODE_ENV: 'production', CORS_ORIGINS: '*' }).cors).toEqual({ anyOrigin: true, origins: [] });
  });

  it.each([
    ['CORS_ORIGINS', 'app.example.com', 'Expected a comma-separated list of origins (https://app.example.com) or * for CORS_ORIGINS but received "app.example.com"'],
    ['CORS_ORIGINS', 'https://a.example.com/path', 'Expected a comma-separated list of origins (https://app.example.com) or * for CORS_ORIGINS but received "https://a.example.com/path"'],
    ['PORT', 'http', 'Expected an integer from 0 to 65535 for PORT but received "http"'],
    ['PORT', '70000', 'Expected an integer from 0 to 65535 for PORT but received "70000"'],
    ['MAX_BODY_BYTES', '1.5', 'Expected an integer from 1024 to 2147483648 for MAX_BODY_BYTES but received "1.5"'],
    ['MAX_QUERY_DEPTH', '1', 'Expected an integer from 2 to 100 for MAX_QUERY_DEPTH but received "1"'],
    ['GRAPHQL_INTROSPECTION', 'maybe', 'Expected true or false for GRAPHQL_INTROSPECTION but received "maybe"'],
    ['LOG_LEVEL', 'loud', 'Expected one of fatal, error, warn, info, debug, trace, silent for LOG_LEVEL but received "loud"'],
    ['IMAGE_URL_ALLOWED_HOSTS', 'http://x.com', 'Expected a comma-separated list of host names (example.com or *.example.com) for IMAGE_URL_ALLOWED_HOSTS but received "http://x.com"'],
    ['IMAGE_STORE_MAX_BYTES', '1000', 'Expected at least MAX_IMAGE_BYTES (20971520), so that one image fits for IMAGE_STORE_MAX_BYTES but received "1000"'],
  ])('refuses %s=%s, naming the variable', (variable, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ variable, message });
  });
  it('reads the fleet settings: REDIS_URL, TRUST_PROXY (hop count or addresses), SHUTDOWN_DRAIN_MS', () => {
    expect(loadConfig({ REDIS_URL: 'redis://:secret@redis.internal:6380/2', REDIS_KEY_PREFIX: 'staging:', TRUST_PROXY: '2', SHUTDOWN_DRAIN_MS: '5000' }).fleet).toEqual({
      redisUrl: 'redis://:secret@redis.internal:6380/2',
      redisKeyPrefix: 'staging:',
      trustProxy: 2,
      shutdownDrainMs: 5000,
    });
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.168.1.7' }).fleet.trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
    expect(loadConfig({ TRUST_PROXY: 'false', REDIS_URL: 'rediss://cache.example.com' }).fleet).toMatchObject({ trustProxy: false, redisUrl: 'rediss://cache.example.com' });
  });

  it.each([
    ['REDIS_URL', 'http://redis:6379', 'Expected a redis:// or rediss:// URL for REDIS_URL but received "http://redis:6379"'],
    ['REDIS_URL', 'redis://user:pw@', 'Expected a redis:// or rediss:// URL for REDIS_URL but received "redis://***@"'],
    ['TRUST_PROXY', '10.0.0.0/33', 'Expected a hop count or a comma-separated list of IP addresses, CIDRs, loopback, linklocal or uniquelocal for TRUST_PROXY but received "10.0.0.0/33"'],
    ['TRUST_PROXY', 'true', 'Expected a hop count or a comma-separated list of IP addresses, CIDRs, loopback, linklocal or uniquelocal for TRUST_PROXY but received "true"'],
    ['TRUST_PROXY', 'proxy.local', 'Expected a hop count or a comma-separated list of IP addresses, CIDRs, loopback, linklocal or uniquelocal for TRUST_PROXY but received "proxy.local"'],
    ['SHUTDOWN_DRAIN_MS', '-1', 'Expected an integer from 0 to 600000 for SHUTDOWN_DRAIN_MS but received "-1"'],
  ])('refuses %s=%s', (variable, value, message) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(message);
  });
});
