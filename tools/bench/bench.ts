/**
 * `npm run bench [-- --quick] [-- --large] [-- --json FILE]`: throughput and latency of real-size BLIP models built
 * with random weights (same cost as the real ones), measured on this machine:
 *   (a) the fp32 GEMM rate ONNX Runtime reaches here, (b) vision-encoder GFLOP/s at batch 1/4/8 and its ratio to (a),
 *   (c) caption throughput and p50/p95 latency through real HTTP GraphQL at concurrency 1, 4, 16, with cross-request
 *   batching on and off in the same run, (d) gateway time over raw runtime time for the same work, (e) peak RSS.
 * Captions are forced to a fixed length (min = max = 20 tokens) because random weights rarely emit [SEP].
 */
import 'reflect-metadata';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { BlipPipeline } from '../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer } from '../../src/main.ts';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { floatTensor, OnnxSession } from '../../src/runtime/onnx-session.ts';
import { readManifest, type VariantManifest } from '../../src/variant/manifest.ts';
import { buildRandomModel, distinctImage, median, percentile, randomArray, REPO, round } from './common.ts';

const TOKENS = 20;
/** Every caption exactly TOKENS long (counting [DEC]), so that runs compare. */
const forced = { minLength: TOKENS, maxLength: TOKENS };

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, large: { type: 'boolean', default: false }, json: { type: 'string' }, cache: { type: 'string' } },
});
const quick = args.quick ?? false;
const config = args.large ? 'blip-image-captioning-large' : 'blip-image-captioning-base';
const cacheDir = resolve(args.cache ?? join(tmpdir(), 'blip-gateway-bench'));
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const modelDir = await buildRandomModel(config, cacheDir, log);
const manifest = await readManifest(modelDir);

const gemm = await measureGemm();
log(`GEMM: ${gemm.toFixed(1)} GFLOP/s`);
// One in-process model serves (b) and the parts of a caption behind the batching ceiling.
const runtimeModel = await BlipModel.load(modelDir, manifest);
const vision = await measureVision(runtimeModel);
const components = await measureDecodeComponents(runtimeModel);
await runtimeModel.release();
const raw = await measureRawCaption();
log(`raw runtime caption: ${raw.toFixed(0)} ms`);
const caption = await measureGateway();

/**
 * The best gain batching can give at concurrency 16 on this machine, from the measured parts of one caption: each
 * image still needs its own vision pass and cross K/V (they cost the same per image at any batch size on CPU), and
 * only the decode steps are shared. Unbatched: V1 + C + n·s(1); batched at best: min(V1, V8) + C + n·s(16)/16.
 */
function batchingCeiling(): number {
  const v1 = vision.find((v) => v.batch === 1)!.ms_per_image;
  const v8 = vision.find((v) => v.batch === 8)!.ms_per_image;
  const steps = TOKENS - 1;
  const alone = v1 + components.cross_kv_ms_per_image + steps * components.step_ms[1];
  const shared = Math.min(v1, v8) + components.cross_kv_ms_per_image + (steps * components.step_ms[16]) / 16;
  return alone / shared;
}

const atC16 = (batching: boolean) => caption.find((r) => r.concurrency === 16 && r.batching === batching)!.throughput_per_s;
const c1 = caption.find((r) => r.concurrency === 1 && r.batching)!;
const result = {
  model: config,
  quick,
  tokens_per_caption: TOKENS,
  gemm_gflops: round(gemm),
  vision,
  raw_caption_ms: round(raw),
  caption,
  batching_gain_c16: round(atC16(true) / atC16(false), 3),
  components,
  batching_gain_ceiling_c16: round(batchingCeiling(), 3),
  gateway_overhead: round(c1.p50_ms / raw - 1, 4),
  peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
};
printTable(result);
if (args.json) {
  await writeFile(args.json, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${args.json}`);
}
process.exit(0);

/**
 * (a) The fp32 GEMM rate ONNX Runtime reaches on this machine: the best of MatMuls shaped like the vision MLP of a
 * batch of images (both directions) and a large square one, so that the ratio in (b) is measured against what the
 * cores can really do rather than against one shape that happens to suit MLAS less well.
 */
async function measureGemm(): Promise<number> {
  let best = 0;
  for (const [m, k, n] of [
    [4 * 577, 768, 3072],
    [4 * 577, 3072, 768],
    [2048, 2048, 2048],
  ] as const) {
    best = Math.max(best, await measureMatMul(m, k, n));
  }
  return best;
}

async function measureMatMul(m: number, k: number, n: number): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'bench-gemm-'));
  const weights = new WeightFile(join(scratch, 'gemm.onnx.data'));
  const g = new GraphBuilder('gemm', weights);
  const x = g.input('x', 'float32', [m, k]);
  const w = g.floats('w', randomArray(k * n), [k, n]);
  g.output(g.node('MatMul', [x, w]), 'y', 'float32', [m, n]);
  weights.close();
  await writeFile(join(scratch, 'gemm.onnx'), g.encode('GEMM rate probe'));
  const session = await OnnxSession.load(join(scratch, 'gemm.onnx'));
  const feeds = { x: floatTensor(randomArray(m * k), [m, k]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  // Best of several rounds: the rate the machine can reach, not what a noisy moment gave.
  let best = 0;
  for (let round = 0; round < (quick ? 3 : 5); round++) {
    const reps = 4;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await session.run(feeds);
    const seconds = (performance.now() - t0) / 1000;
    best = Math.max(best, (2 * m * k * n * reps) / seconds / 1e9);
  }
  await session.release();
  await rm(scratch, { recursive: true, force: true });
  log(`MatMul ${m}x${k}x${n}: ${best.toFixed(1)} GFLOP/s`);
  return best;
}

/** FLOPs of one image through the vision encoder (matmuls and the patch convolution; see blip-spec §11.1). */
function visionFlops(m: VariantManifest, vision: { hidden: number; intermediate: number; layers: number; patch: number }): number {
  const tokens = m.dims.imageTokens;
  const D = vision.hidden;
  const patchMacs = (tokens - 1) * D * 3 * vision.patch * vision.patch;
  const layerMacs = tokens * D * 3 * D + 2 * tokens * tokens * D + tokens * D * D + 2 * tokens * D * vision.intermediate;
  return 2 * (patchMacs + vision.layers * layerMacs);
}

/** (b) Vision encoder GFLOP/s at batch 1, 4, 8. */
async function measureVision(model: BlipModel): Promise<Array<{ batch: number; gflops: number; ratio_to_gemm: number; ms_per_image: number }>> {
  const configJson = JSON.parse(await readFile(join(REPO, 'test/fixtures/configs', `${config}.json`), 'utf8'));
  const v = configJson.vision_config ?? {};
  const flops = visionFlops(manifest, {
    hidden: v.hidden_size ?? 768,
    intermediate: v.intermediate_size ?? 3072,
    layers: v.num_hidden_layers ?? 12,
    patch: v.patch_size ?? 16,
  });
  const { width, height } = manifest.preprocess;
  const rows = [];
  for (const batch of [1, 4, 8]) {
    const pixels = randomArray(batch * 3 * width * height);
    await model.encodeImages(pixels, batch);
    const reps = quick ? 1 : batch === 1 ? 4 : 2;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await model.encodeImages(pixels, batch);
    const seconds = (performance.now() - t0) / 1000 / reps;
    const gflops = (flops * batch) / seconds / 1e9;
    rows.push({ batch, gflops: round(gflops), ratio_to_gemm: round(gflops / gemm, 3), ms_per_image: round((seconds * 1000) / batch) });
    log(`vision batch ${batch}: ${gflops.toFixed(1)} GFLOP/s (${(gflops / gemm).toFixed(2)} of GEMM)`);
  }
  return rows;
}

/** The other parts of a caption: cross K/V per image, and one decode step (cache of ~10 tokens) at 1 and 16 rows. */
async function measureDecodeComponents(model: BlipModel): Promise<{ cross_kv_ms_per_image: number; step_ms: Record<1 | 16, number> }> {
  const tokens = model.imageTokens;
  const states = randomArray(16 * tokens * manifest.dims.visionHidden);
  const contexts = await model.crossContexts(states, 16, tokens, new Array(16).fill(tokens));
  let crossKv = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await model.crossContexts(states.subarray(0, tokens * manifest.dims.visionHidden), 1, tokens, [tokens]);
    crossKv = Math.min(crossKv, performance.now() - t0);
  }
  const step = { 1: 0, 16: 0 };
  for (const rows of [1, 16] as const) {
    const decoder = model.createDecoder([], { capacityHint: rows });
    const ids = contexts.slice(0, rows).map((context) => decoder.addContext(context));
    await decoder.start(ids.map((context) => ({ tokens: [manifest.tokenizer.ids.bos], context })));
    const parents = ids.map((_, i) => i);
    const next = parents.map(() => manifest.tokenizer.ids.bos + 1);
    const times = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await decoder.next(parents, next);
      times.push(performance.now() - t0);
    }
    step[rows] = round(median(times.slice(2)));
    decoder.dispose();
  }
  log(`cross K/V ${crossKv.toFixed(0)} ms per image; decode step ${step[1]} ms at 1 row, ${step[16]} ms at 16 rows`);
  return { cross_kv_ms_per_image: round(crossKv), step_ms: step };
}

/** The same caption through the runtime alone (no HTTP, no GraphQL, no worker): the baseline of (d). */
async function measureRawCaption(): Promise<number> {
  // Distinct pictures, as over HTTP: a repeated image would hit the embedding cache and skip the vision encoder.
  const pipeline = await BlipPipeline.load(modelDir, { imageLimits: DEFAULT_IMAGE_LIMITS });
  await pipeline.caption([{ image: new Uint8Array(await distinctImage(1_000_000)), options: forced }]);
  const times = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const picture = new Uint8Array(await distinctImage(1_000_001 + i));
    const t0 = performance.now();
    const [result] = await pipeline.caption([{ image: picture, options: forced }]);
    times.push(performance.now() - t0);
    if (!result.ok || result.value.sequence.length !== TOKENS) throw new Error(`raw caption failed: ${JSON.stringify(result)}`);
    if (result.value.cacheHit) throw new Error('raw caption hit the embedding cache: the comparison would be unfair');
  }
  await pipeline.release();
  return median(times);
}

/** (c) and (d): the real server over HTTP, one variant with batching and one without, same weights. */
async function measureGateway() {
  const registryDir = await mkdtemp(join(tmpdir(), 'bench-registry-'));
  for (const [name, maxBatchSize] of [['bench-batched', 16], ['bench-unbatched', 1]] as const) {
    const dir = join(registryDir, name);
    await mkdir(dir);
    for (const file of await readdir(modelDir)) if ((await stat(join(modelDir, file))).isFile()) await link(join(modelDir, file), join(dir, file));
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await rm(join(dir, 'manifest.json'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...m, name }));
    await writeFile(
      join(dir, 'variant.json'),
      JSON.stringify({ name, task: 'caption', description: `${config}, random weights`, source: { huggingFace: `Salesforce/${config}` }, batching: { maxBatchSize, maxRows: maxBatchSize === 1 ? 1 : 32, maxQueueDelayMs: 5, maxQueueSize: 1000 } }),
    );
  }
  const server = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', REGISTRY_DIR: registryDir, LOG_LEVEL: 'silent', NODE_ENV: 'production' }), {
    logger: pino({ level: 'silent' }),
  });
  // Every request gets its own picture: identical requests would be computed once by the engine (and cached).
  let sequence = 0;
  const send = async (model: string): Promise<number> => {
    const base64 = (await distinctImage(sequence++)).toString('base64');
    const t0 = performance.now();
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($input: CaptionInput!) { caption(input: $input) { caption model sequence } }',
        variables: { input: { model, image: { base64 }, options: forced } },
      }),
    });
    const body = (await response.json()) as { data?: { caption: { sequence: number[] } }; errors?: unknown };
    if (!body.data || body.data.caption.sequence.length !== TOKENS) throw new Error(`caption failed: ${JSON.stringify(body).slice(0, 500)}`);
    return performance.now() - t0;
  };

  const rows = [];
  try {
    for (const model of ['bench-batched', 'bench-unbatched']) await send(model); // load both variants
    for (const concurrency of [1, 4, 16]) {
      for (const batching of [true, false]) {
        const model = batching ? 'bench-batched' : 'bench-unbatched';
        // Full runs keep every client busy for several rounds, so that the batched rows reach a steady state.
        const total = quick ? Math.max(2, concurrency) : Math.max(4, 3 * concurrency);
        const latencies: number[] = [];
        let next = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < total) {
              next++;
              latencies.push(await send(model));
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        const row = { concurrency, batching, requests: total, throughput_per_s: round(total / seconds, 3), p50_ms: round(percentile(latencies, 50)), p95_ms: round(percentile(latencies, 95)) };
        rows.push(row);
        log(`c=${concurrency} batching=${batching}: ${row.throughput_per_s}/s p50 ${row.p50_ms} ms p95 ${row.p95_ms} ms`);
      }
    }
  } finally {
    await server.close();
    await rm(registryDir, { recursive: true, force: true });
  }
  return rows;
}

function printTable(r: typeof result): void {
  const lines = [
    `model ${r.model} (random weights), ${r.tokens_per_caption} tokens per caption${r.quick ? ', quick' : ''}`,
    `GEMM rate: ${r.gemm_gflops} GFLOP/s`,
    'vision encoder: batch | GFLOP/s | ratio to GEMM | ms per image',
    ...r.vision.map((v) => `  ${v.batch} | ${v.gflops} | ${v.ratio_to_gemm} | ${v.ms_per_image}`),
    `raw runtime caption (in-process, no HTTP): ${r.raw_caption_ms} ms`,
    'caption over HTTP GraphQL: concurrency | batching | requests | captions/s | p50 ms | p95 ms',
    ...r.caption.map((c) => `  ${c.concurrency} | ${c.batching ? 'on' : 'off'} | ${c.requests} | ${c.throughput_per_s} | ${c.p50_ms} | ${c.p95_ms}`),
    `batching gain at concurrency 16: ${r.batching_gain_c16}x (ceiling from the parts below: ${r.batching_gain_ceiling_c16}x)`,
    `  parts: vision ${r.vision[0].ms_per_image} ms/image at batch 1, cross K/V ${r.components.cross_kv_ms_per_image} ms/image, decode step ${r.components.step_ms[1]} ms at 1 row, ${r.components.step_ms[16]} ms at 16 rows`,
    `gateway overhead at concurrency 1: ${(r.gateway_overhead * 100).toFixed(1)} %`,
    `peak RSS: ${r.peak_rss_mb} MB`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
