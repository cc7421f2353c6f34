/**
 * The second renderer's own PRNG (splitmix32), deliberately not tools/scenes' mulberry32: nothing about its random
 * choices should line up with the training generator's.
 */
export interface SecondRng {
  /** Uniform float in [0, 1). */
  float(): number;
  range(min: number, max: number): number;
  int(min: number, maxInclusive: number): number;
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function secondRng(seed: number): SecondRng {
  let state = seed >>> 0;
  const float = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
    return ((z ^ (z >>> 15)) >>> 0) / 4294967296;
  };
  const rng: SecondRng = {
    float,
    range: (min, max) => min + (max - min) * float(),
    int: (min, maxInclusive) => min + Math.floor(float() * (maxInclusive - min + 1)),
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(float() * items.length)];
      if (item === undefined) throw new RangeError('Expected a non-empty list to pick from but received an empty one');
      return item;
    },
    normal: () => Math.sqrt(-2 * Math.log(1 - float())) * Math.cos(2 * Math.PI * float()),
  };
  return rng;
}

/** Seed of scene `index` of a second-renderer set: a different hash from tools/scenes' sceneSeed. */
export function secondSceneSeed(setSeed: number, index: number): number {
  let h = (Math.imul(setSeed >>> 0, 0x27d4eb2f) + Math.imul(index + 1, 0x165667b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}
