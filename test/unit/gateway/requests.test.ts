import { describe, expect, it } from 'vitest';
import type { ServedResult } from '../../../src/batching/types.ts';
import { runTogether, type PreparedRequest } from '../../../src/gateway/requests.ts';

describe('runTogether', () => {
  it('submits every prepared item in the same tick, after the slowest preparation; failures stay per item', async () => {
    const submitted: Array<{ item: number; tick: number }> = [];
    let tick = 0;
    const timer = setInterval(() => tick++, 1);
    const prepare = (item: number, delayMs: number, fail = false) =>
      new Promise<PreparedRequest>((resolve, reject) =>
        setTimeout(() => {
          if (fail) reject(new Error(`item ${item} failed`));
          else resolve({ run: async () => (submitted.push({ item, tick }), { text: `r${item}` } as ServedResult) });
        }, delayMs),
      );
    const results = await Promise.allSettled(runTogether([prepare(0, 1), prepare(1, 15, true), prepare(2, 30)]));
    clearInterval(timer);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.text : (r.reason as Error).message))).toEqual(['r0', 'item 1 failed', 'r2']);
    expect(submitted.map((s) => s.item)).toEqual([0, 2]);
    expect(new Set(submitted.map((s) => s.tick)).size).toBe(1);
  });
});
