import { readFileSync } from 'node:fs';

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** How many bytes differ between two equal-length arrays, and by how much at most. */
export function mismatches(a: Uint8Array, b: Uint8Array): { count: number; maxDiff: number } {
  let count = 0;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) count++;
    if (d > maxDiff) maxDiff = d;
  }
  return { count, maxDiff };
}
