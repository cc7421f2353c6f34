/**
 * `npm run bench:memory`: peak RSS of the serving process alone, with one real-size random-weight blip-base variant,
 * at concurrency 16 and then 64 (issue 12 item 4), next to the working-memory bound the budget counts for it.
 *
 *   nice -n 10 node --import tsx tools/bench/memory-probe.ts [--variant DIR]... [--concurrency 16,64] [--sequential 8] [--json FILE] [--repo DIR]
 *     [--glibc-default | --env NAME=VALUE...]
 *
 * Each `--variant` is a converted blip-base folder (default: the fp32 and int8 random-weight ones under
 * /work/bench-cache, made by `buildRandomModel` and `npm run cli -- convert --random-weights --precision int8`). For
 * each one, the real server starts as a child process (PRELOAD_MODELS = the variant, so it has loaded before the first
 * request), and the probe reads /proc/<pid>/status: RSS when loaded and idle, then for each concurrency C, C captions
 * of distinct pictures at once (min = max length, 20 new tokens) with the peak (VmHWM, reset before each phase through
 * /proc/<pid>/clear_refs) and the RSS once they are done. `Model.memory` gives the bound the budget counts.
 *
 * The glibc allocator settings trade RSS against CPU (every fresh mapping faults its pages), and the machine may be
 * shared, so next to RSS the probe reports quantities that contention does not spoil, from /proc/<pid>/stat of the
 * serving process (all its threads): minor page faults and CPU seconds (user + sys) of the start and load, and per
 * caption of `--sequential N` captions sent one at a time (the c1 cost) and of each concurrency wave.
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
const variants = values('--variant').length > 0 ? values('--variant') : ['/work/bench-cache/blip-image-captioning-base-random-v5', '/work/bench-cache/blip-image-captioning-base-random-int8-v5'];
const concurrencies = (values('--concurrency')[0] ?? '16,64').split(',').map(Number);
const sequential = Number(values('--sequential')[0] ?? 8);
const jsonFile = values('--json')[0];
/**
 * The server runs with the glibc settings production uses (SERVING_MALLOC_ENV: Dockerfile, `npm start`).
 * `--glibc-default` runs it with none (glibc's dynamic mmap threshold); `--env NAME=VALUE` (repeatable) with exactly
 * those instead, e.g. `--env MALLOC_MMAP_THRESHOLD_=8388608`. Allocator variables of the probe's own environment are
 * never passed on, so the printed setting is the one the server ran with.
 */
const envArgs = values('--env').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]);
const GLIBC: Record<string, string> = args.includes('--glibc-default') ? {} : envArgs.length > 0 ? Object.fromEntries(envArgs) : { ...SERVING_MALLOC_ENV };
const isAllocatorVariable = (key: string) => key.startsWith('MALLOC_') || key === 'GLIBC_TUNABLES';
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !isAllocatorVariable(key)));
/** Another checkout's server (e.g. the code before a change: `git archive <commit> | tar -x -C DIR`, node_modules linked). */
const serverRepo = values('--repo')[0] ?? REPO;
const envLabel = Object.entries(GLIBC).map(([key, value]) => `${key}=${value}`).join(' ') || 'glibc defaults';
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

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on every Linux this runs on). */
const TICKS = 100;
interface ProcCounters {
  minorFaults: number;
  majorFaults: number;
  cpuSeconds: number;
}
/** Counters of the whole process (all threads): minflt, majflt, utime + stime (fields 10, 12, 14, 15 of stat). */
function procCounters(pid: number): ProcCounters {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return { minorFaults: field(10), majorFaults: field(12), cpuSeconds: (field(14) + field(15)) / TICKS };
}
/** Faults and CPU seconds per caption between two readings. */
function perCaption(before: ProcCounters, after: ProcCounters, captions: number) {
  return { minor_faults_per_caption: Math.round((after.minorFaults - before.minorFaults) / captions), cpu_s_per_caption: Math.round(((after.cpuSeconds - before.cpuSeconds) / captions) * 1000) / 1000 };
}
/** Waits until the server's CPU time stops growing (the spare worker's imports after a load, a GC), at most 30 s. */
async function settle(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const before = procCounters(pid).cpuSeconds;
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (procCounters(pid).cpuSeconds - before <= 0.02) return;
  }
}

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
    env: { ...baseEnv, ...GLIBC, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'test', REGISTRY_DIR: registryDir, PRELOAD_MODELS: name, RATE_LIMIT_PER_MINUTE: '0', MAX_BATCH_ITEMS: '1024' },
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
  const started = procCounters(server.pid);
  log(`${precision} [${envLabel}]: loaded, RSS ${mb(loaded.rss)} MB (anon ${mb(loaded.anon)}, file ${mb(loaded.file)}), peak while loading ${mb(loaded.hwm)} MB; start + load ${started.cpuSeconds.toFixed(2)} s CPU, ${started.minorFaults} minor faults`);
  const model = await post(server.url, { query: `{ model(name: "${name}") { bytes memory { weightBytes workingBytes totalBytes } } }` }).catch((error: Error) => ({ error: error.message }));
  const entry: any = { precision, loaded_rss_mb: mb(loaded.rss), loaded_anon_mb: mb(loaded.anon), loaded_file_mb: mb(loaded.file), load_peak_mb: mb(loaded.hwm), start_load_cpu_s: started.cpuSeconds, start_load_minor_faults: started.minorFaults, model, concurrency: {} as Record<number, any> };
  const caption = (base64: string) => post(server.url, { query: QUERY, variables: { input: { model: name, image: { base64 }, options: { minLength: 21, maxLength: 21 } } } });
  if (sequential > 0) {
    // One untimed caption, then the c1 cost: N captions of new pictures, one at a time.
    await caption((await distinctImage(seed++)).toString('base64'));
    const images = await Promise.all(Array.from({ length: sequential }, async () => (await distinctImage(seed++)).toString('base64')));
    await settle(server.pid);
    const before = procCounters(server.pid);
    const walls: number[] = [];
    for (const base64 of images) {
      const t0 = performance.now();
      await caption(base64);
      walls.push(performance.now() - t0);
    }
    // Wall time only means something on a quiet machine; the faults and CPU seconds do anyway.
    const medianMs = Math.round(walls.sort((a, b) => a - b)[Math.floor(walls.length / 2)]);
    entry.sequential = { captions: sequential, ...perCaption(before, procCounters(server.pid), sequential), median_wall_ms: medianMs };
    log(`${precision} c1 x ${sequential}: ${entry.sequential.minor_faults_per_caption} minor faults, ${entry.sequential.cpu_s_per_caption} s CPU per caption, median ${medianMs} ms wall`);
  }
  for (const concurrency of concurrencies) {
    const images = await Promise.all(Array.from({ length: concurrency }, async () => (await distinctImage(seed++)).toString('base64')));
    await settle(server.pid);
    writeFileSync(`/proc/${server.pid}/clear_refs`, '5');
    const before = procCounters(server.pid);
    let sampledPeak = 0;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, procStatus(server.pid).rss)), 100);
    const waveStart = performance.now();
    try {
      await Promise.all(images.map(caption));
    } finally {
      clearInterval(sampler);
    }
    const after = procStatus(server.pid);
    const cost = perCaption(before, procCounters(server.pid), concurrency);
    entry.concurrency[concurrency] = { peak_rss_mb: mb(after.hwm), after_rss_mb: mb(after.rss), after_anon_mb: mb(after.anon), seconds: Math.round((performance.now() - waveStart) / 100) / 10, ...cost };
    log(`${precision} c${concurrency}: peak ${mb(after.hwm)} MB (sampled ${mb(sampledPeak)}), after ${mb(after.rss)} MB (anon ${mb(after.anon)}), ${cost.minor_faults_per_caption} minor faults and ${cost.cpu_s_per_caption} s CPU per caption, ${entry.concurrency[concurrency].seconds} s`);
  }
  return entry;
}
for (const r of results) {
  const cells = concurrencies.map((c) => `c${c} peak ${r.concurrency[c].peak_rss_mb} MB, ${r.concurrency[c].minor_faults_per_caption} faults, ${r.concurrency[c].cpu_s_per_caption} s CPU/caption, ${r.concurrency[c].seconds} s wall`);
  const c1 = r.sequential ? `c1 ${r.sequential.minor_faults_per_caption} faults, ${r.sequential.cpu_s_per_caption} s CPU/caption, ${r.sequential.median_wall_ms} ms wall; ` : '';
  log(`SUMMARY ${r.precision} [${envLabel}]: load ${r.start_load_cpu_s.toFixed(2)} s CPU, ${r.start_load_minor_faults} faults, loaded ${r.loaded_rss_mb} MB; ${c1}${cells.join('; ')}`);
}
const summary = { malloc_env: GLIBC, serving_peak_rss_mb: Object.fromEntries(results.map((r) => [r.precision, Object.fromEntries(Object.entries(r.concurrency).map(([c, v]: [string, any]) => [c, v.peak_rss_mb]))])), variants: results };
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(summary, null, 2));
