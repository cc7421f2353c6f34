/** Small helpers the ONNX probe tools share: seeded inputs and how a series of timings is printed. */

/** Seeded standard-normal floats (an LCG through Box–Muller): the same inputs in every run and every form compared. */
export function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return out;
}

/** The upper median (the middle element of the sorted series). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/** `median [min–max]` with `digits` decimals: how every probe prints a series. */
export function medianRange(xs: readonly number[], digits = 1): string {
  return `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
}
