/**
 * `npm run bench:load -- <variant-dir>... [--reps N] [--captions N] [--cold] [--modes spare,fresh,original] [--json FILE]`
 *
 * What loading a converted variant costs in the server: starting (or taking) an inference worker and creating its
 * sessions, exactly what `blip_model_load_seconds` measures. Three ways, interleaved per repetition:
 * - `spare`: the server's default path (SPARE_WORKER on): the variant goes to a spare worker that has already imported
 *   its modules (SpareWorker.ready() is awaited first), so the load is the sessions and the tokenizer;
 * - `fresh`: a new worker thread, which first imports tsx, onnxruntime-node, sharp and the runtime (SPARE_WORKER=0, or
 *   a second load before the spare is ready);
 * - `original`: a new worker loading the original graphs, optimized again at load (the fallback when the saved
 *   optimized graphs do not fit this machine).
 * After each load, captions of one image (20 new tokens, greedy) show the loaded sessions run as fast either way.
 * Medians with min and max.
 *
 * Warm by default (every file read once first, so it is in the page cache). `--cold` evicts the variant's files from
 * the page cache before each load (GNU dd `iflag=nocache count=0`, per file): the cold-disk figure.
 *
 * glibc's allocator settings change a load a lot (README "Cold start"): the run prints the MALLOC_* and GLIBC_TUNABLES
 * it ran under; run it once per setting to compare.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { resultOf } from '../../src/backend/event-stream.ts';
import type { SpareWorker } from '../../src/backend/worker/spare-worker.ts';
import { WorkerBackend } from '../../src/backend/worker/worker-backend.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { MANIFEST_FILE, readManifest } from '../../src/variant/manifest.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: 'string', default: '5' },
    captions: { type: 'string', default: '3' },
    cold: { type: 'boolean', default: false },
    modes: { type: 'string', default: 'spare,fresh,original' },
    json: { type: 'string' },
  },
});
type Mode = 'spare' | 'fresh' | 'original';
const MODES: readonly Mode[] = ['spare', 'fresh', 'original'];
const reps = Number(values.reps);
const captions = Number(values.captions);
const wanted = values.modes.split(',');
if (positionals.length === 0 || !Number.isInteger(reps) || reps < 1 || !Number.isInteger(captions) || captions < 0 || !wanted.every((m) => (MODES as readonly string[]).includes(m))) {
  process.stderr.write('usage: npm run bench:load -- <variant-dir>... [--reps N ≥ 1] [--captions N ≥ 0] [--cold] [--modes spare,fresh,original] [--json FILE]\n');
  process.exit(2);
}
/** Allocator settings of this process (the workers are its threads): they are part of what is measured. */
const mallocEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('MALLOC_') || key === 'GLIBC_TUNABLES'));

interface Row {
  dir: string;
  variant: string;
  precision: string;
  mode: Mode;
  /** Which graphs the worker loaded (the stats' `loadedFrom`). */
  graphs: 'optimized' | 'original';
  load_ms: number[];
  first_caption_ms: number[];
  caption_ms: number[];
}

const image = await noiseJpeg();
const startLoad = loadavg()[0];
const rows: Row[] = [];
const spares = wanted.includes('spare') ? WorkerBackend.spareWorkers() : undefined;
spares?.prime();
try {
  for (const dir of positionals.map((p) => resolve(p))) rows.push(...(await measure(dir)));
} finally {
  await spares?.close();
}

/** Every mode of one variant, interleaved per repetition. */
async function measure(dir: string): Promise<Row[]> {
  const manifest = await readManifest(dir);
  const original = await withoutOptimized(dir);
  let modes = MODES.filter((m) => wanted.includes(m));
  if (!manifest.optimized) {
    process.stderr.write(`${dir} has no saved optimized graphs: only the original path is measured (run \`npm run cli -- optimize ${dir}\`)\n`);
    modes = ['original'];
  }
  const byMode = new Map<Mode, Row>(
    modes.map((mode) => [mode, { dir, variant: manifest.name, precision: manifest.precision, mode, graphs: mode === 'original' ? 'original' : 'optimized', load_ms: [], first_caption_ms: [], caption_ms: [] }]),
  );
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const mode of modes) {
        const row = byMode.get(mode) as Row;
        const from = mode === 'spare' ? (spares as SpareWorker) : undefined;
        if (from && !(await from.ready())) throw new Error('the spare worker died before it was ready');
        await (values.cold ? evict(dir) : readAll(dir));
        let warning = '';
        let t = performance.now();
        const backend = await WorkerBackend.start(mode === 'original' ? original : dir, { imageLimits: DEFAULT_IMAGE_LIMITS }, (message) => (warning = message), from);
        row.load_ms.push(performance.now() - t);
        try {
          // The load started the next spare: let it finish importing before the captions are timed.
          if (from) await from.ready();
          const stats = await backend.stats();
          if (stats.loadedFrom !== row.graphs) throw new Error(`expected the ${row.graphs} graphs but the worker loaded from ${stats.loadedFrom} (${warning})`);
          for (let i = 0; i <= captions; i++) {
            t = performance.now();
            const result = await resultOf(backend.submit({ kind: 'caption', item: { image: image.slice(), options: { maxNewTokens: 20, minNewTokens: 20, numBeams: 1 } } }));
            if (!result.ok) throw new Error(`caption failed: ${result.error.message}`);
            (i === 0 ? row.first_caption_ms : row.caption_ms).push(performance.now() - t);
          }
        } finally {
          await backend.close();
        }
        process.stderr.write(`${manifest.name} ${mode} rep ${rep + 1}/${reps}: load ${row.load_ms.at(-1)?.toFixed(0)} ms\n`);
      }
    }
  } finally {
    await rm(original, { recursive: true, force: true });
  }
  return [...byMode.values()];
}

const summary = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: round(median), min: round(s[0]), max: round(s.at(-1) as number), spread_flag: median > 0 && (s.at(-1)! - s[0]) / median > 0.25 };
};
const report = {
  cache: values.cold ? 'cold' : 'warm',
  repetitions: reps,
  malloc_env: mallocEnv,
  load_average: { start: startLoad, end: loadavg()[0] },
  results: rows.map((r) => ({ dir: r.dir, variant: r.variant, precision: r.precision, mode: r.mode, graphs: r.graphs, load_ms: summary(r.load_ms), first_caption_ms: summary(r.first_caption_ms), caption_ms: summary(r.caption_ms) })),
};
for (const r of report.results) {
  const f = (s: ReturnType<typeof summary>) => (s ? `${s.median} [${s.min}–${s.max}]${s.spread_flag ? ' (spread > 25 %)' : ''}` : '–');
  process.stdout.write(`${basename(r.dir)} (${r.variant}) ${r.precision} ${r.mode.padEnd(8)} load ${f(r.load_ms)} ms · first caption ${f(r.first_caption_ms)} ms · caption ${f(r.caption_ms)} ms\n`);
}
process.stdout.write(`load average ${report.load_average.start.toFixed(2)} → ${report.load_average.end.toFixed(2)} (${report.cache} page cache); allocator env: ${JSON.stringify(mallocEnv)}\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** A view of `dir` whose manifest lacks `optimized`: the server's fallback path, on the same files. */
async function withoutOptimized(dir: string): Promise<string> {
  const view = await mkdtemp(join(tmpdir(), 'load-time-original-'));
  for (const file of await readdir(dir)) if (file !== MANIFEST_FILE) await symlink(join(dir, file), join(view, file));
  const json = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  delete json.optimized;
  await writeFile(join(view, MANIFEST_FILE), JSON.stringify(json));
  return view;
}

async function readAll(dir: string): Promise<void> {
  for (const file of await readdir(dir)) for await (const _ of createReadStream(join(dir, file))) void _;
}

function evict(dir: string): Promise<void> {
  return readdir(dir).then((files) => {
    for (const file of files) {
      const result = spawnSync('dd', [`if=${join(dir, file)}`, 'iflag=nocache', 'count=0', 'status=none']);
      if (result.status !== 0) throw new Error(`cannot evict ${file} from the page cache: ${result.stderr.toString()}`);
    }
  });
}

async function noiseJpeg(): Promise<Uint8Array> {
  const pixels = Buffer.alloc(400 * 300 * 3);
  let state = 12345;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  return new Uint8Array(await sharp(pixels, { raw: { width: 400, height: 300, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}
