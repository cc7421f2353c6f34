/**
 * `npm run bench:memory`: peak RSS of the serving process alone, with one real-size random-weight blip-base variant,
 * at concurrency 16 and then 64 (issue 12 item 4), next to the working-memory bound the budget counts for it.
 *
 *   nice -n 10 node --import tsx tools/bench/memory-probe.ts [--variant DIR]... [--concurrency 16,64] [--json FILE] [--repo DIR] [--glibc-default]
 *
 * Each `--variant` is a converted blip-base folder (default: the fp32 and int8 random-weight ones under
 * /work/bench-cache, made by `buildRandomModel` and `npm run cli -- convert --random-weights --precision int8`). For
 * each one, the real server starts as a child process (PRELOAD_MODELS = the variant, so it has loaded before the first
 * request), and the probe reads /proc/<pid>/status: RSS when loaded and idle, then for each concurrency C, C captions
 * of distinct pictures at once (min = max length, 20 new tokens) with the peak (VmHWM, reset before each phase through
 * /proc/<pid>/clear_refs) and the RSS once they are done. `Model.memory` gives the bound the budget counts.
 */
import { spawn } from 'node:child_process';
import { SERVING_MALLOC_ENV } from './serving-env.ts';
import { request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { distinctImage, REPO } from './common.ts';

const args = process.argv.slice(2);
const values = (name: string) => args.flatMap((arg, i) => (arg === name ? [args[i + 1]] : []));
const variants = values('--variant').length > 0 ? values('--variant') : ['/work/bench-cache/blip-image-captioning-base-random-v2', '/work/bench-cache/memory-int8'];
const concurrencies = (values('--concurrency')[0] ?? '16,64').split(',').map(Number);
const jsonFile = values('--json')[0];
/**
 * The server runs with the glibc setting production uses (Dockerfile, `npm start`): allocations of 1 MiB or more are
 * mapped and returned on free. `--glibc-default` leaves glibc's dynamic threshold, to show what the setting saves.
 */
const GLIBC = args.includes('--glibc-default') ? {} : SERVING_MALLOC_ENV;
/** Another checkout's server (e.g. the code before a change: `git archive <commit> | tar -x -C DIR`, node_modules linked). */
const serverRepo = values('--repo')[0] ?? REPO;
const MB = 1024 * 1024;
const log = (message: string) => process.stderr.write(`${message}\n`);
const QUERY = 'mutation ($input: CaptionInput!) { caption(input: $input) { caption } }';
let seed = 7_000_000;

interface ProcStatus {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}
function procStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}
const mb = (bytes: number) => Math.round(bytes / MB);

async function registryWith(dir: string): Promise<{ registryDir: string; name: string; precision: string }> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  const name = `probe-${manifest.precision}`;
  const registryDir = await mkdtemp(join(tmpdir(), 'memory-probe-'));
  const variantDir = join(registryDir, name);
  await mkdir(variantDir);
  for (const file of await readdir(dir)) if (file !== 'manifest.json' && (await stat(join(dir, file))).isFile()) await link(join(dir, file), join(variantDir, file));
  await writeFile(join(variantDir, 'manifest.json'), JSON.stringify({ ...manifest, name }));
  const variant = { name, task: 'caption', description: 'blip-base, random weights', precision: manifest.precision, source: { huggingFace: 'Salesforce/blip-image-captioning-base' }, batching: { maxQueueSize: 1000 } };
  await writeFile(join(variantDir, 'variant.json'), JSON.stringify(variant));
  return { registryDir, name, precision: manifest.precision };
}

async function startServer(registryDir: string, name: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(serverRepo, 'src/main.ts')], {
    cwd: serverRepo,
    env: { ...process.env, ...GLIBC, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'test', REGISTRY_DIR: registryDir, PRELOAD_MODELS: name, RATE_LIMIT_PER_MINUTE: '0', MAX_BATCH_ITEMS: '1024' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        if (typeof entry.url === 'string' && /listening/i.test(entry.msg ?? '')) resolve(entry.url.replace(/\/graphql$/, ''));
      } catch {
        // Not a log line.
      }
    });
  });
  return { child, url, pid: child.pid as number, killOnExit };
}

/** POST /graphql over node:http with no timeout (fetch gives up on headers after 300 s; a loaded 2-core machine needs longer at concurrency 64). */
function post(url: string, body: object): Promise<any> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          const json = JSON.parse(text);
          if (json.errors) reject(new Error(JSON.stringify(json.errors)));
          else resolve(json.data);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const results: any[] = [];
for (const dir of variants) {
  const { registryDir, name, precision } = await registryWith(dir);
  const server = await startServer(registryDir, name).catch(async (error) => {
    await rm(registryDir, { recursive: true, force: true });
    throw error;
  });
  try {
    results.push(await measure(server, name, precision));
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    process.removeListener('exit', server.killOnExit);
    await rm(registryDir, { recursive: true, force: true });
  }
}

/** Loaded RSS, `Model.memory`, then the peak and after-RSS of each concurrency wave. */
async function measure(server: { url: string; pid: number }, name: string, precision: string) {
  const loaded = procStatus(server.pid);
  log(`${precision}: loaded, RSS ${mb(loaded.rss)} MB (anon ${mb(loaded.anon)}, file ${mb(loaded.file)}), peak while loading ${mb(loaded.hwm)} MB`);
  const model = await post(server.url, { query: `{ model(name: "${name}") { bytes memory { weightBytes workingBytes totalBytes } } }` }).catch((error: Error) => ({ error: error.message }));
  const entry: any = { precision, loaded_rss_mb: mb(loaded.rss), loaded_anon_mb: mb(loaded.anon), loaded_file_mb: mb(loaded.file), load_peak_mb: mb(loaded.hwm), model, concurrency: {} };
  for (const concurrency of concurrencies) {
    const images = await Promise.all(Array.from({ length: concurrency }, async () => (await distinctImage(seed++)).toString('base64')));
    writeFileSync(`/proc/${server.pid}/clear_refs`, '5');
    let sampledPeak = 0;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, procStatus(server.pid).rss)), 100);
    const started = performance.now();
    try {
      await Promise.all(images.map((base64) => post(server.url, { query: QUERY, variables: { input: { model: name, image: { base64 }, options: { minLength: 21, maxLength: 21 } } } })));
    } finally {
      clearInterval(sampler);
    }
    const after = procStatus(server.pid);
    entry.concurrency[concurrency] = { peak_rss_mb: mb(after.hwm), after_rss_mb: mb(after.rss), after_anon_mb: mb(after.anon), seconds: Math.round((performance.now() - started) / 100) / 10 };
    log(`${precision} c${concurrency}: peak ${mb(after.hwm)} MB (sampled ${mb(sampledPeak)}), after ${mb(after.rss)} MB (anon ${mb(after.anon)}), ${entry.concurrency[concurrency].seconds} s`);
  }
  return entry;
}
const summary = { serving_peak_rss_mb: Object.fromEntries(results.map((r) => [r.precision, Object.fromEntries(Object.entries(r.concurrency).map(([c, v]: [string, any]) => [c, v.peak_rss_mb]))])), variants: results };
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(summary, null, 2));
