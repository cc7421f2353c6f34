/**
 * One caption through the runtime alone (BlipPipeline: no HTTP, no GraphQL, no worker), per precision, the precisions
 * alternating: the baseline of the gateway's overhead and of the PyTorch side-by-side.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { BlipPipeline } from '../../src/models/blip/runtime/pipeline.ts';
import type { Precision } from '../../src/variant/manifest.ts';
import { distinctImage } from './common.ts';
import { rotate, summarize, type Summary } from './stats.ts';

/** Pictures of the raw captions: far from the HTTP cells' seeds, so that no picture is sent twice. */
const SEED_BASE = 1_000_000;

export async function measureRawCaptions(
  variants: Array<{ precision: Precision; dir: string }>,
  runs: number,
  tokens: number,
  log: (m: string) => void,
): Promise<Record<string, Summary>> {
  const forced = { minLength: tokens, maxLength: tokens };
  const pipelines = [];
  let seed = SEED_BASE;
  try {
    for (const v of variants) {
      const pipeline = await BlipPipeline.load(v.dir, { imageLimits: DEFAULT_IMAGE_LIMITS });
      pipelines.push({ precision: v.precision, pipeline });
      await pipeline.caption([{ image: new Uint8Array(await distinctImage(seed++)), options: forced }]); // warm-up
    }
    const times = new Map<Precision, number[]>(variants.map((v) => [v.precision, []]));
    for (let run = 0; run < runs; run++) {
      for (const { precision, pipeline } of rotate(pipelines, run)) {
        // Distinct pictures, as over HTTP: a repeated one would hit the embedding cache and skip the vision encoder.
        const picture = new Uint8Array(await distinctImage(seed++));
        const t0 = performance.now();
        const [result] = await pipeline.caption([{ image: picture, options: forced }]);
        times.get(precision)!.push(performance.now() - t0);
        if (!result.ok || result.value.sequence.length !== tokens) throw new Error(`raw caption failed: ${JSON.stringify(result).slice(0, 500)}`);
        if (result.value.cacheHit) throw new Error('raw caption hit the embedding cache: the comparison would be unfair');
      }
    }
    const out: Record<string, Summary> = {};
    for (const [precision, values] of times) {
      out[precision] = summarize(values);
      log(`raw runtime caption ${precision}: ${out[precision].median} ms [${out[precision].min}–${out[precision].max}]`);
    }
    return out;
  } finally {
    await Promise.all(pipelines.map((p) => p.pipeline.release()));
  }
}
