import express from 'express';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebPages } from '../../../src/http/web-pages.ts';

/** Serves createWebPages over a folder the test writes, on port 0. */
async function serve(dir: string, graphiql: boolean): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(createWebPages({ dir, graphiql }));
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('web pages (/, /graphiql, /assets)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blip-web-pages-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with how to build when the pages are not built', async () => {
    const { url, server } = await serve(join(dir, 'missing'), true);
    try {
      const response = await fetch(`${url}/`);
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('npm run build:web');
    } finally {
      server.close();
    }
  });

  it('serves the pages under helmet’s CSP without upgrade-insecure-requests, assets as immutable, /graphiql only when enabled', async () => {
    const built = join(dir, 'dist');
    await mkdir(join(built, 'assets'), { recursive: true });
    await writeFile(join(built, 'index.html'), '<!doctype html><title>playground</title>');
    await writeFile(join(built, 'graphiql.html'), '<!doctype html><title>graphiql</title>');
    await writeFile(join(built, 'assets', 'app-abc123.js'), 'export {};');
    const on = await serve(built, true);
    const off = await serve(built, false);
    try {
      const page = await fetch(`${on.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>playground</title>');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(await (await fetch(`${on.url}/graphiql`)).text()).toContain('<title>graphiql</title>');
      const asset = await fetch(`${on.url}/assets/app-abc123.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await fetch(`${on.url}/assets/nothing.js`)).status).toBe(404);
      expect((await fetch(`${off.url}/graphiql`)).status).toBe(404);
    } finally {
      on.server.close();
      off.server.close();
    }
  });
});
