/**
 * A small seeded PRNG so that every scene is a pure function of its seed (Math.random would make datasets and the
 * held-out evaluation set irreproducible). mulberry32 is fast, has a 2^32 period and is plenty for picking layouts.
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return {
    next(): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/**
 * Seed of scene `index` in a dataset generated with `datasetSeed`. Hashing (rather than seed + index) keeps the scenes
 * of datasets with neighbouring seeds unrelated, so a held-out set with another seed shares no scene with training.
 */
export function sceneSeed(datasetSeed: number, index: number): number {
  let h = (Math.imul(datasetSeed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function uniform(rng: Rng, min: number, max: number): number {
  return min + (max - min) * rng.next();
}

export function randomInt(rng: Rng, min: number, maxInclusive: number): number {
  return min + Math.floor(rng.next() * (maxInclusive - min + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng.next() * items.length)];
  if (item === undefined) throw new RangeError('Expected a non-empty list to pick from but received an empty one');
  return item;
}

export function chance(rng: Rng, probability: number): boolean {
  return rng.next() < probability;
}

/** `count` distinct items in random order (partial Fisher–Yates). */
export function sample<T>(rng: Rng, items: readonly T[], count: number): T[] {
  if (count > items.length) {
    throw new RangeError(`Expected at most ${items.length} for count but received ${count}`);
  }
  const pool = [...items];
  for (let i = 0; i < count; i += 1) {
    const j = i + Math.floor(rng.next() * (pool.length - i));
    const tmp = pool[i] as T;
    pool[i] = pool[j] as T;
    pool[j] = tmp;
  }
  return pool.slice(0, count);
}

/** Approximately normal N(0, 1) from the sum of four uniforms (cheap, bounded, good enough for pixel noise). */
export function gaussianish(rng: Rng): number {
  return (rng.next() + rng.next() + rng.next() + rng.next() - 2) * Math.sqrt(3);
}
