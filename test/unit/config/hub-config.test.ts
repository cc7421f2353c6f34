import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadHubConfig } from '../../../src/config/config.ts';

describe('Hugging Face Hub settings', () => {
  it('defaults: huggingface.co, no token, online, ~/.cache/huggingface/hub, no auto install', () => {
    expect(loadConfig({}).hub).toEqual({ endpoint: 'https://huggingface.co', token: undefined, offline: false, cacheDir: join(homedir(), '.cache', 'huggingface', 'hub'), autoInstall: false });
  });

  it('the cache follows HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, as huggingface_hub does', () => {
    expect(loadHubConfig({ XDG_CACHE_HOME: '/x' }).cacheDir).toBe('/x/huggingface/hub');
    expect(loadHubConfig({ XDG_CACHE_HOME: '/x', HF_HOME: '/h' }).cacheDir).toBe('/h/hub');
    expect(loadHubConfig({ HF_HOME: '/h', HF_HUB_CACHE: '/c' }).cacheDir).toBe('/c');
  });

  it('reads HF_ENDPOINT (without a trailing slash), HF_TOKEN, HF_HUB_OFFLINE, AUTO_INSTALL and REGISTRY_DIR', () => {
    const hub = loadHubConfig({ HF_ENDPOINT: 'http://127.0.0.1:8080/', HF_TOKEN: 'hf_abc', HF_HUB_OFFLINE: '1', AUTO_INSTALL: 'true', REGISTRY_DIR: '/r' });
    expect(hub).toMatchObject({ endpoint: 'http://127.0.0.1:8080', token: 'hf_abc', offline: true, autoInstall: true, registryDir: '/r' });
  });

  it.each([
    ['HF_TOKEN', 'api_old', 'HF_TOKEN'],
    ['HF_ENDPOINT', 'huggingface.co', 'HF_ENDPOINT'],
    ['HF_HUB_OFFLINE', 'maybe', 'HF_HUB_OFFLINE'],
  ])('refuses %s=%s naming the variable', (name, value, variable) => {
    expect(() => loadHubConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadHubConfig({ [name]: value })).toThrow(variable);
  });
});
