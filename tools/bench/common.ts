/** What the benchmarks share: the random-weight model they run, the pictures they send, and their statistics. */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { convertCheckpoint, CONVERTER_VERSION } from '../../src/models/blip/convert/convert-checkpoint.ts';
import { readManifest, type Precision } from '../../src/variant/manifest.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Converts a real-size config (`test/fixtures/configs/<config>.json`, or `configFile`) with seeded random weights in
 * `precision` into `cacheDir` once, and reuses it while the converter version is unchanged: random weights cost exactly
 * what the real ones cost. The folder name carries the precision (fp32 keeps the historical `<config>-random-v<N>`, so
 * caches made before precisions existed stay valid) and the converter version (a bumped converter reconverts).
 */
export async function buildRandomModel(
  config: string,
  cacheDir: string,
  log: (message: string) => void,
  precision: Precision = 'fp32',
  configFile = join(REPO, 'test/fixtures/configs', `${config}.json`),
): Promise<string> {
  const dir = join(cacheDir, randomModelKey(config, precision, CONVERTER_VERSION));
  try {
    const manifest = await readManifest(dir);
    if (manifest.precision !== precision || manifest.converter.version !== CONVERTER_VERSION) throw new Error('stale');
    log(`reusing ${dir}`);
    return dir;
  } catch {
    log(`converting ${config} with random weights in ${precision} into ${dir} (minutes for a real-size model)`);
    await rm(dir, { recursive: true, force: true });
    await convertCheckpoint({ source: { kind: 'random', configFile, seed: 1 }, outDir: dir, name: config, precision });
    return dir;
  }
}

/** The cache folder name of a converted random-weight model. */
export function randomModelKey(config: string, precision: Precision, converterVersion: string): string {
  return precision === 'fp32' ? `${config}-random-v${converterVersion}` : `${config}-random-${precision}-v${converterVersion}`;
}

/**
 * A 400×300 JPEG of seeded noise: distinct content per seed (no cache hit), decoded and resized like any photo.
 * Integer arithmetic throughout (Math.imul): a float product would lose the low bits that tell seeds apart.
 */
export async function distinctImage(seed: number): Promise<Buffer> {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`Expected a non-negative integer seed but received ${seed}`);
  const pixels = Buffer.alloc(400 * 300 * 3);
  let state = (Math.imul(seed ^ 0x5bd1e995, 2654435761) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  for (let i = 0; i < pixels.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    pixels[i] = state >>> 24;
  }
  const jpeg = await sharp(pixels, { raw: { width: 400, height: 300, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const digest = createHash('sha256').update(jpeg).digest('hex');
  const earlier = issued.get(digest);
  if (earlier !== undefined && earlier !== seed) throw new Error(`distinctImage(${seed}) repeats the picture of seed ${earlier}: the embedding cache would skew the benchmark`);
  issued.set(digest, seed);
  return jpeg;
}

/** Every picture handed out, by content hash: a benchmark must never send one picture twice by accident. */
const issued = new Map<string, number>();

export function randomArray(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
