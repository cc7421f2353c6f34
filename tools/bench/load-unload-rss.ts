/**
 * Measurement, not a test: RSS of the gateway process across load/unload cycles.
 *
 *   node --expose-gc --import tsx tools/bench/load-unload-rss.ts [cycles]     (default 10; SKIP_BASE=1 skips blip-base)
 *
 * Starts the real server (admin on) over a temporary registry: the shipped variant.json files (the tiny embedded
 * variants are converted at start-up) plus, when /tmp/blip-gateway-bench/blip-image-captioning-base-random-v1
 * exists, a real-size random blip-base hard-linked in as `bench-base` (as tools/bench/bench.ts does). Each cycle
 * loads a variant with the admin mutation, runs one request on it, unloads it, and prints RSS (and heap) after the
 * unload. Worker threads share the process, so RSS includes ONNX Runtime's native memory.
 */
import { readdirSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, REPO_ROOT } from '../../src/config/config.ts';
import { startServer } from '../../src/main.ts';

const CYCLES = Number(process.argv[2] ?? 10);
const BASE_DIR = '/tmp/blip-gateway-bench/blip-image-captioning-base-random-v1';
const KEY = 'rss-measurement-admin-key';
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

const registryDir = await mkdtemp(join(tmpdir(), 'rss-registry-'));
for (const entry of await readdir(join(REPO_ROOT, 'registry'), { withFileTypes: true })) {
  const variantFile = join(REPO_ROOT, 'registry', entry.name, 'variant.json');
  if (!entry.isDirectory() || !(await stat(variantFile).catch(() => null))) continue;
  await mkdir(join(registryDir, entry.name));
  await copyFile(variantFile, join(registryDir, entry.name, 'variant.json'));
}
const haveBase = process.env.SKIP_BASE !== '1' && !!(await stat(BASE_DIR).catch(() => null));
if (haveBase) {
  const dir = join(registryDir, 'bench-base');
  await mkdir(dir);
  for (const file of await readdir(BASE_DIR)) if (file !== 'manifest.json') await link(join(BASE_DIR, file), join(dir, file));
  const manifest = JSON.parse(await readFile(join(BASE_DIR, 'manifest.json'), 'utf8'));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, name: 'bench-base' }));
  await writeFile(
    join(dir, 'variant.json'),
    JSON.stringify({ name: 'bench-base', task: 'caption', description: 'blip-image-captioning-base, random weights', source: { huggingFace: 'Salesforce/blip-image-captioning-base' } }),
  );
}

const server = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', REGISTRY_DIR: registryDir, LOG_LEVEL: 'silent', NODE_ENV: 'production', ADMIN_API_KEY: KEY, RATE_LIMIT_PER_MINUTE: '0' }), {
  logger: pino({ level: 'silent' }),
});
const image = (await readFile(join(REPO_ROOT, 'test/fixtures/blip-tiny/images/shapes_400x300.jpg'))).toString('base64');

async function gql(query: string, variables: object = {}): Promise<any> {
  const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': KEY }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as any;
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
const load = (name: string) => gql('mutation($name: String!) { loadModel(name: $name) { state } }', { name });
const unload = (name: string) => gql('mutation($name: String!) { unloadModel(name: $name) { state } }', { name });
const caption = (model: string) => gql('mutation($input: CaptionInput!) { caption(input: $input) { caption } }', { input: { model, image: { base64: image } } });
const answer = (model: string) => gql('mutation($input: AnswerInput!) { answer(input: $input) { answer } }', { input: { model, image: { base64: image }, question: 'what is it?' } });

/** OS threads of this process (Linux): a worker that was not stopped would keep its threads. */
const threads = () => { try { return readdirSync('/proc/self/task').length; } catch { return NaN; } };

const report = (label: string) => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  console.log(`${label.padEnd(28)} rss ${mb(m.rss).padStart(7)} MB  heapUsed ${mb(m.heapUsed).padStart(6)} MB  external ${mb(m.external).padStart(6)} MB  threads ${threads()}`);
  return m.rss;
};

try {
  const start = report('server started');
  console.log(`\n== tiny variants (blip-tiny + blip-tiny-vqa), ${CYCLES} cycles ==`);
  const tiny: number[] = [];
  for (let i = 1; i <= CYCLES; i++) {
    await load('blip-tiny');
    await load('blip-tiny-vqa');
    await caption('blip-tiny');
    await answer('blip-tiny-vqa');
    if (i === 1) report('  cycle 1 while loaded');
    await unload('blip-tiny');
    await unload('blip-tiny-vqa');
    tiny.push(report(`  cycle ${i} after unload`));
  }
  console.log(`tiny: start ${mb(start)} MB, after cycle 1 ${mb(tiny[0])} MB, after cycle ${CYCLES} ${mb(tiny.at(-1)!)} MB, growth cycle 1→${CYCLES}: ${mb(tiny.at(-1)! - tiny[0])} MB`);

  if (haveBase) {
    console.log(`\n== real-size random blip-base (bench-base), ${CYCLES} cycles ==`);
    const base: number[] = [];
    for (let i = 1; i <= CYCLES; i++) {
      const t0 = performance.now();
      await load('bench-base');
      const loadMs = performance.now() - t0;
      await caption('bench-base');
      const loaded = report(`  cycle ${i} loaded (${loadMs.toFixed(0)} ms)`);
      await unload('bench-base');
      base.push(report(`  cycle ${i} after unload`));
      void loaded;
    }
    console.log(`base: after cycle 1 ${mb(base[0])} MB, after cycle ${CYCLES} ${mb(base.at(-1)!)} MB, growth cycle 1→${CYCLES}: ${mb(base.at(-1)! - base[0])} MB`);
  } else {
    console.log(`\n(no ${BASE_DIR}: real-size cycles skipped)`);
  }
} finally {
  await server.close();
  await rm(registryDir, { recursive: true, force: true });
}
