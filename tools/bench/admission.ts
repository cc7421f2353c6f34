/**
 * `npm run bench:admission [-- --large] [-- --json FILE]`: the experiment behind the engine's admission policy
 * (src/models/blip/engine/admission.ts). The same arrival traces run through one in-process pipeline per policy on a
 * real-size model with random weights, and the table gives each policy's mean and maximum latency, its makespan and
 * the widest decode batch each request took part in (mean over requests). Not part of the tests: it measures this machine.
 *
 * Traces (every caption a distinct picture, forced to 20 tokens as in `npm run bench`):
 *   - `stream`: 16 captions arriving 200 ms apart (requests join a batch that is decoding);
 *   - `burst`: 16 captions at once (all wait for the first encoder pass);
 *   - `repeat`: 16 captions of 4 pictures, 300 ms apart (cheap encodes: the embedding cache answers).
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ADMISSION_POLICIES, type AdmissionPolicy } from '../../src/models/blip/engine/admission.ts';
import { BlipPipeline } from '../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { buildRandomModel, distinctImage, round } from './common.ts';

const TOKENS = 20;
const forced = { minLength: TOKENS, maxLength: TOKENS };

const { values: args } = parseArgs({ options: { large: { type: 'boolean', default: false }, json: { type: 'string' } } });
const config = args.large ? 'blip-image-captioning-large' : 'blip-image-captioning-base';
const log = (message: string) => process.stderr.write(`[admission] ${message}\n`);

interface Trace {
  name: string;
  /** Arrival time (ms after the start) and picture seed of each request. */
  arrivals: Array<{ at: number; seed: number }>;
}

const TRACES: Trace[] = [
  { name: 'stream', arrivals: Array.from({ length: 16 }, (_, i) => ({ at: 200 * i, seed: i })) },
  { name: 'burst', arrivals: Array.from({ length: 16 }, (_, i) => ({ at: 0, seed: 100 + i })) },
  { name: 'repeat', arrivals: Array.from({ length: 16 }, (_, i) => ({ at: 300 * i, seed: 200 + (i % 4) })) },
];

const modelDir = await buildRandomModel(config, join(tmpdir(), 'blip-gateway-bench'), log);
const rows = [];
for (const trace of TRACES) {
  const pictures = new Map<number, Uint8Array>();
  for (const { seed } of trace.arrivals) if (!pictures.has(seed)) pictures.set(seed, new Uint8Array(await distinctImage(seed)));
  for (const policy of ADMISSION_POLICIES) {
    const row = await runTrace(trace, policy, pictures);
    rows.push(row);
    log(`${trace.name} ${policy}: mean ${row.mean_ms} ms, max ${row.max_ms} ms, makespan ${row.makespan_ms} ms`);
  }
}
const lines = [
  `model ${config} (random weights), ${TOKENS} tokens per caption`,
  'trace | policy | mean latency ms | max latency ms | makespan ms | widest decode batch a request saw (mean)',
  ...rows.map((r) => `  ${r.trace} | ${r.policy} | ${r.mean_ms} | ${r.max_ms} | ${r.makespan_ms} | ${r.mean_widest_batch}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
if (args.json) await writeFile(args.json, `${JSON.stringify({ model: config, tokens_per_caption: TOKENS, rows }, null, 2)}\n`);
process.exit(0);

/** One trace through a fresh pipeline (cold cache, empty batch) with `policy`. */
async function runTrace(trace: Trace, policy: AdmissionPolicy, pictures: Map<number, Uint8Array>) {
  const pipeline = await BlipPipeline.load(modelDir, { imageLimits: DEFAULT_IMAGE_LIMITS, admission: policy });
  // Warm-up on a picture outside every trace, so that the first request does not pay for session start-up.
  await pipeline.caption([{ image: new Uint8Array(await distinctImage(1_000_000)), options: forced }]);
  const start = performance.now();
  const widest: number[] = [];
  const latencies = await Promise.all(
    trace.arrivals.map(async ({ at, seed }) => {
      await new Promise((resolve) => setTimeout(resolve, at));
      const sent = performance.now();
      const [result] = await pipeline.caption([{ image: pictures.get(seed) as Uint8Array, options: forced }]);
      if (!result.ok) throw new Error(`caption failed: ${JSON.stringify(result.error)}`);
      widest.push(result.value.batchSize);
      return performance.now() - sent;
    }),
  );
  const makespan = performance.now() - start;
  await pipeline.release();
  return {
    trace: trace.name,
    policy,
    mean_ms: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    max_ms: round(Math.max(...latencies)),
    makespan_ms: round(makespan),
    mean_widest_batch: round(widest.reduce((a, b) => a + b, 0) / widest.length),
  };
}
