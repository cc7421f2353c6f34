import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folder the gateway serves the pages from (see src/http/web-pages.ts). */
export const WEB_DIST = fileURLToPath(new URL('dist/', import.meta.url));
const WEB_ROOT = fileURLToPath(new URL('./', import.meta.url));
const LOCKFILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));
const STAMP = 'build-stamp.json';

export interface WebBuildResult {
  /** `fresh`: dist/ already matched the sources; `built`: built now; `skipped`: Vite is not installed. */
  outcome: 'fresh' | 'built' | 'skipped';
  hash: string;
  ms: number;
}

/**
 * Builds web/ into web/dist/ with Vite unless dist/ was built from exactly these sources (a sha256 over every file of
 * web/ outside dist/, and package-lock.json, so that a dependency update rebuilds too). `npm start` runs it first
 * (prestart): a fresh clone gets its pages after `npm ci && npm start`, with nothing built committed, and a restart
 * with unchanged sources costs one hash. The build goes to a temporary folder that replaces dist/ at the end, so the
 * server never serves half a build. Without Vite (an install without dev dependencies) it builds nothing and says so;
 * the server then answers / with 503 and how to build.
 */
export async function buildWeb(options: { force?: boolean; log?: (line: string) => void } = {}): Promise<WebBuildResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const hash = await sourceHash();
  if (!options.force && (await stampOf(WEB_DIST)) === hash) return { outcome: 'fresh', hash, ms: performance.now() - started };

  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    log('blip-gateway: Vite is not installed (dev dependencies missing), so the playground and /graphiql are not built; run `npm ci` and `npm run build:web`.');
    return { outcome: 'skipped', hash, ms: performance.now() - started };
  }
  log('blip-gateway: building the playground and GraphiQL (web/ → web/dist/)…');
  const staging = join(WEB_ROOT, `.dist-${process.pid}-${Date.now()}`);
  try {
    await vite.build({ configFile: join(WEB_ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
    await writeFile(join(staging, STAMP), JSON.stringify({ hash, builtAt: new Date().toISOString() }, null, 2));
    await rm(WEB_DIST, { recursive: true, force: true });
    await rename(staging, WEB_DIST);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const ms = performance.now() - started;
  log(`blip-gateway: built web/dist/ in ${(ms / 1000).toFixed(1)} s`);
  return { outcome: 'built', hash, ms };
}

async function stampOf(dir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as { hash?: string }).hash;
  } catch {
    return undefined;
  }
}

async function sourceHash(): Promise<string> {
  const digest = createHash('sha256');
  const files = (await listFiles(WEB_ROOT)).sort();
  for (const file of [...files, LOCKFILE]) {
    digest.update(relative(WEB_ROOT, file)).update('\0');
    digest.update(existsSync(file) ? await readFile(file) : Buffer.alloc(0)).update('\0');
  }
  return digest.digest('hex');
}

/** Every file under `dir`, except built output (dist/, staging folders) and node_modules. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.startsWith('.dist-')) return [];
        return listFiles(path);
      }
      return entry.isFile() ? [path] : [];
    }),
  );
  return nested.flat();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--force');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    await buildWeb({ force, log });
  } catch (error) {
    // `npm run build:web` (--force) fails loudly; `npm start` still starts the API, and / answers 503 until a build.
    log(`blip-gateway: building web/ failed: ${error instanceof Error ? error.message : String(error)}`);
    if (force) process.exitCode = 1;
  }
}
