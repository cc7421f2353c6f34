/**
 * `npm run bench [-- --quick] [-- --large] [-- --torch] [-- --json FILE] …` (bench-options.ts lists every option):
 * throughput, latency, memory and loading cost of real-size BLIP models built with random weights (same cost as the
 * real ones), fp32 and int8, measured on this machine and repeated, the cells interleaved:
 *   (a) the fp32 GEMM rate ONNX Runtime reaches here, (b) the vision encoder per image at batch 1/4/8, (c) cross K/V
 *   and a decode step at 1/4/16 rows with the bytes it touches, (d) int8 quality against fp32, (e) one caption through
 *   the runtime alone, (f) the PyTorch side-by-side (`--torch`), (g) caption throughput and p50/p95 latency over real
 *   HTTP GraphQL at concurrency 1, 4, 16 with batching on and off, each variant in its own serving process (peak RSS,
 *   encoder pass sizes, a concurrency-64 cell), (h) loading time in the server.
 * `--c1-only` and `--loads-only` measure one part alone (c1-phase.ts, loads-phase.ts).
 * Captions are forced to a fixed length (min = max = 20 tokens) because random weights rarely emit [SEP].
 */
import 'reflect-metadata';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { readManifest } from '../../src/variant/manifest.ts';
import { measureInt8Quality } from '../quality/int8-quality.ts';
import { estimateMinutes, parseBenchOptions } from './bench-options.ts';
import { formatC1, runC1Phase } from './c1-phase.ts';
import { formatLoads, runLoadsPhase } from './loads-phase.ts';
import { buildRandomModel, round } from './common.ts';
import { measureGemm } from './gemm-probe.ts';
import { requestsPerCell } from './http-cells.ts';
import { dropCachesUnavailable } from './load-timing.ts';
import { decodeStepBytes, measureDecodeParts, measureVision, visionDims, type LoadedModel } from './model-parts.ts';
import { measureRawCaptions } from './raw-caption.ts';
import { buildResult, formatTable } from './report.ts';
import { runServing } from './serving-phase.ts';
import { checkTorchAvailable, runTorchCaption } from './torch-side.ts';

const TOKENS = 20;
const started = performance.now();
const log = (message: string) => process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(0)}s] ${message}\n`);
const o = parseBenchOptions(process.argv.slice(2));

// Fail before the long part on anything that would fail after it.
if (o.torch) log(`PyTorch side-by-side: Debian's torch ${await checkTorchAvailable()}`);
const cannotDrop = o.coldDisk ? dropCachesUnavailable() : undefined;
if (cannotDrop) throw new Error(`--cold-disk: ${cannotDrop}`);

const dirs: Record<string, string> = {};
const conversionStarted = performance.now();
for (const p of o.precisions) dirs[p] = await buildRandomModel(o.config, o.cacheDir, log, p, o.configFile);
if (o.prepareOnly) {
  log(`models ready (${o.precisions.join(', ')}); --prepare-only: nothing measured`);
  process.exit(0);
}
// A conversion in this run leaves its own trace in the load average: let it decay before the measurements start.
if (performance.now() - conversionStarted > 20_000) await waitForQuiet(120);

const loadStart = loadavg();
log(`load average at start: ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
if (loadStart[0] > 0.5) {
  log('!!!!!!!! WARNING: the 1-minute load average is above 0.5: the machine is not quiet, every timing below is suspect !!!!!!!!');
}
if (o.c1Only) {
  // The c1 latency alone (c1-phase.ts): the raw in-process caption first (the overhead's baseline), then HTTP.
  const raw = await measureRawCaptions(o.precisions.map((p) => ({ precision: p, dir: dirs[p] })), 5, TOKENS, log);
  const c1 = await runC1Phase({ precisions: o.precisions, dirs, description: `${o.config}, random weights`, requests: o.c1Requests, tokens: TOKENS, raw, spinningAB: o.spinningAB, log });
  const loadAverage = { start: loadStart, end: loadavg() };
  await finishPart(formatC1(c1, raw, loadAverage), { model: o.config, mode: 'c1-only', precisions: o.precisions, tokens_per_caption: TOKENS, load_average: loadAverage, raw_caption_ms: raw, c1 });
}
if (o.loadsOnly) {
  const loads = await runLoadsPhase({ precisions: o.precisions, dirs, description: `${o.config}, random weights`, loads: o.loads, coldDisk: o.coldDisk, log });
  const loadAverage = { start: loadStart, end: loadavg() };
  const load_ms = Object.fromEntries(Object.entries(loads.loads).map(([p, t]) => [p, t.metric.median]));
  await finishPart(formatLoads(o.config, loads, loadAverage), { model: o.config, mode: 'loads-only', precisions: o.precisions, load_average: loadAverage, load_ms, load_ms_stats: loads.loads, cold_load_ms: loads.coldLoads });
}
log(`estimated duration on a quiet machine: about ${Math.ceil(estimateMinutes(o, (c) => requestsPerCell(c, o.quick)))} min (${o.reps} repetition(s), ${o.precisions.join(' + ')}${o.torch ? ', torch' : ''})`);

const manifests = Object.fromEntries(await Promise.all(o.precisions.map(async (p) => [p, await readManifest(dirs[p])] as const)));
const gemm = await measureGemm(o.quick, log);
log(`GEMM: ${gemm.toFixed(1)} GFLOP/s`);

// (b)–(d): one in-process model per precision.
const models: LoadedModel[] = [];
for (const p of o.precisions) models.push({ precision: p, dir: dirs[p], model: await BlipModel.load(dirs[p], manifests[p]) });
const vision = await measureVision(models, visionDims(JSON.parse(await readFile(o.configFile, 'utf8'))), gemm, o.reps, log);
const components = await measureDecodeParts(models, log);
const stepBytes = Object.fromEntries(await Promise.all(o.precisions.map(async (p) => [p, await decodeStepBytes(dirs[p], manifests[p], components[p].cached_tokens)] as const)));
let quality = null;
if (o.precisions.length === 2) {
  log(`int8 quality: ${o.qualityImages} images, ${o.qualitySteps} teacher-forced steps`);
  const q = await measureInt8Quality(models[0].model, models[1].model, o.qualityImages, o.qualitySteps);
  quality = { embedding_cosine: q.minCosine, embedding_cosine_mean: q.meanCosine, top1_agreement: q.comparison.top1Agreement, images: o.qualityImages, steps: o.qualitySteps, passed: q.passed };
  log(`int8 quality: embedding cosine min ${q.minCosine.toFixed(5)}, top-1 agreement ${(100 * q.comparison.top1Agreement).toFixed(1)} %`);
}
for (const m of models) await m.model.release();

// (e) and (f).
const raw = await measureRawCaptions(
  o.precisions.map((p) => ({ precision: p, dir: dirs[p] })),
  o.quick ? 2 : Math.max(5, o.reps),
  TOKENS,
  log,
);
let torch = null;
if (o.torch) {
  log('PyTorch side-by-side: building the model with random weights and captioning');
  torch = await runTorchCaption(o.configFile, TOKENS, o.quick ? 1 : Math.max(3, o.reps), o.quick);
  log(`PyTorch: ${torch.median_caption_ms.toFixed(0)} ms per caption (vision ${torch.median_vision_ms.toFixed(0)} ms)`);
}

// (g) and (h): one serving process per (precision, batching).
const serving = await runServing({
  precisions: o.precisions,
  dirs,
  description: `${o.config}, random weights`,
  reps: o.reps,
  quick: o.quick,
  tokens: TOKENS,
  c64Requests: o.c64Requests,
  loads: o.loads,
  coldDisk: o.coldDisk,
  phased: o.phased,
  log,
});

const result = buildResult({
  model: o.config,
  quick: o.quick,
  reps: o.reps,
  tokens: TOKENS,
  precisions: o.precisions,
  loadAverage: { start: loadStart, end: loadavg() },
  durationS: (performance.now() - started) / 1000,
  gemm,
  vision,
  components,
  stepBytes,
  raw,
  ...serving,
  c64Requests: o.c64Requests,
  benchPeakRssMb: process.resourceUsage().maxRSS / 1024,
  quality,
  torch,
});
process.stdout.write(formatTable(result));
if (o.json) {
  await writeFile(o.json, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${o.json}`);
}
log(`done in ${round((performance.now() - started) / 60_000, 1)} min`);
process.exit(0);

/** Waits (at most `seconds`) for the 1-minute load average to fall to 0.5. */
/** Ends a run that measured one part alone (--c1-only, --loads-only): its report, its JSON with --json, exit. */
async function finishPart(report: string, result: object): Promise<never> {
  process.stdout.write(report);
  if (o.json) {
    await writeFile(o.json, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${o.json}`);
  }
  log(`done in ${round((performance.now() - started) / 60_000, 1)} min`);
  process.exit(0);
}

async function waitForQuiet(seconds: number): Promise<void> {
  const until = performance.now() + seconds * 1000;
  log(`waiting up to ${seconds} s for the load average to settle after the conversion (now ${loadavg()[0].toFixed(2)})`);
  while (loadavg()[0] > 0.5 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5000));
}
