/**
 * Seeded random weights for every tensor a BLIP config needs, for benchmarks at real size without the real files.
 * Each tensor is computed when it is read, from (seed, name) alone, so read order does not matter and blip-large
 * never holds its 1.9 GB at once. Magnitudes follow transformers' init (normal std 0.02 for matrices and
 * embeddings, LayerNorm 1/0, biases 0), which keeps activations finite through 24 layers.
 */
import { checkpointError } from '../../../errors.ts';
import type { BlipConfig } from './blip-config.ts';
import { elementCount } from '../../../checkpoint/stored-dtype.ts';
import type { WeightInfo, WeightSource } from '../../../checkpoint/weight-source.ts';
import { blipWeightSpec, type WeightSpecEntry } from './weight-spec.ts';

const INIT_STD = 0.02;

export function createRandomWeights(config: BlipConfig, seed: number): WeightSource {
  if (!Number.isSafeInteger(seed)) {
    throw checkpointError(`random(seed=${seed})`, `Expected an integer for the seed but received ${seed}`);
  }
  // Ignored entries (position_ids buffers, the duplicate LM bias) are not needed by anything, so none are made.
  const entries = blipWeightSpec(config).entries.filter((entry) => entry.presence !== 'ignored');
  return new RandomSource(`random(seed=${seed})`, seed, entries);
}

// Private: the WeightSource; it holds no tensor data.
class RandomSource implements WeightSource {
  readonly file: string;
  readonly #seed: number;
  readonly #entries: ReadonlyMap<string, WeightSpecEntry>;

  constructor(file: string, seed: number, entries: WeightSpecEntry[]) {
    this.file = file;
    this.#seed = seed;
    this.#entries = new Map(entries.map((entry) => [entry.name, entry]));
  }

  list(): WeightInfo[] {
    return [...this.#entries.values()].map(publicInfo);
  }

  get(name: string): WeightInfo | undefined {
    const entry = this.#entries.get(name);
    return entry === undefined ? undefined : publicInfo(entry);
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw checkpointError(this.file, `Expected a tensor named '${name}' but there is none`);
    const values = new Float32Array(elementCount(entry.shape));
    switch (entry.role) {
      case 'weight':
        fillNormal(values, INIT_STD, this.#seed, name);
        break;
      case 'norm-weight':
        values.fill(1);
        break;
      case 'bias':
      case 'norm-bias':
      case 'position-ids':
        break;
    }
    return values;
  }

  async close(): Promise<void> {}
}

function publicInfo(entry: WeightSpecEntry): WeightInfo {
  return { name: entry.name, dtype: 'F32', shape: [...entry.shape] };
}

// #region generator
// xoshiro128** (32-bit state words, Math.imul arithmetic) seeded through splitmix32 from a hash of (seed, name);
// each output picks a cell of a normal quantile table and interpolates inside it: one PRNG draw per value,
// no transcendental functions in the loop.

const QUANTILE_BITS = 16;
const CELLS = 1 << QUANTILE_BITS;
const FRACTION_BITS = 32 - QUANTILE_BITS;
const FRACTION_MASK = (1 << FRACTION_BITS) - 1;
const FRACTION_SCALE = 1 / (1 << FRACTION_BITS);

let quantiles: Float64Array | undefined;

function fillNormal(out: Float32Array, std: number, seed: number, name: string): void {
  quantiles ??= buildQuantileTable();
  const table = quantiles;
  let state = (hashName(name) ^ Math.imul(seed | 0, 0x9e3779b1) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  const next = (): number => {
    // splitmix32
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
  let s0 = next();
  let s1 = next();
  let s2 = next();
  let s3 = next();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  for (let i = 0; i < out.length; i++) {
    const scrambled = Math.imul(s1, 5);
    const bits = Math.imul((scrambled << 7) | (scrambled >>> 25), 9) >>> 0;
    const shifted = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= shifted;
    s3 = (s3 << 11) | (s3 >>> 21);
    const cell = bits >>> FRACTION_BITS;
    const fraction = ((bits & FRACTION_MASK) + 0.5) * FRACTION_SCALE;
    const low = table[cell];
    out[i] = std * (low + (table[cell + 1] - low) * fraction);
  }
}

/** FNV-1a over the UTF-16 code units of the name. */
function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Standard-normal quantiles at i / CELLS (i = 0..CELLS), the two ends clamped to the 0.5/CELLS quantiles (±4.3)
 * so the outer cells do not stretch into the tails. The CDF comes from integrating the density numerically.
 */
function buildQuantileTable(): Float64Array {
  const low = -9;
  const steps = 360_000;
  const step = 18 / steps;
  const density = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  const cdf = new Float64Array(steps + 1);
  let previous = density(low);
  for (let k = 1; k <= steps; k++) {
    const current = density(low + k * step);
    cdf[k] = cdf[k - 1] + 0.5 * (previous + current) * step;
    previous = current;
  }
  const table = new Float64Array(CELLS + 1);
  let k = 0;
  for (let i = 0; i <= CELLS; i++) {
    const p = Math.min(Math.max(i / CELLS, 0.5 / CELLS), 1 - 0.5 / CELLS);
    while (k < steps - 1 && cdf[k + 1] < p) k++;
    table[i] = low + (k + (p - cdf[k]) / (cdf[k + 1] - cdf[k])) * step;
  }
  return table;
}
// #endregion
