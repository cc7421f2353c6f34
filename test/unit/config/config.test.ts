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
      rateLimit: { perMinute: 600, burst: 60 },
      adminApiKey: undefined,
      models: { memoryBudgetBytes: Math.floor(totalmem() * 0.75), preload: [], pin: [] },
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
    });
    expect(config).toMatchObject({ port: 0, host: '127.0.0.1', registryDir: join(REPO_ROOT, 'other'), logLevel: 'info', limits: { batchItems: 4 }, intraOpSpinning: false });
    expect(config.imageFetch.allowedHosts).toEqual(['images.example.com', '*.cdn.example.org']);
  });

  it('reads the operations settings: rate limit, admin key, memory budget, preloaded and pinned models', () => {
    const config = loadConfig({
      RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_BURST: '5',
      ADMIN_API_KEY: 'k'.repeat(16),
      MODEL_MEMORY_BUDGET_BYTES: '1000',
      PRELOAD_MODELS: 'blip-tiny, blip-tiny-vqa',
      PIN_MODELS: 'blip-tiny',
      IMAGE_URL_ALLOW_PRIVATE: 'true',
    });
    expect(config).toMatchObject({
      rateLimit: { perMinute: 0, burst: 5 },
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

  it.each([
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
});
