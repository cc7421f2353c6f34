import { describe, expect, it } from 'vitest';
import { admissionCount, CostEstimates } from '../../../../../../src/models/blip/engine/admission.ts';

describe('admissionCount', () => {
  it('admits every candidate when nothing runs, whatever the policy', () => {
    for (const policy of ['adaptive', 'eager', 'drain'] as const) {
      expect(admissionCount(policy, { running: 0, drainMs: 0, encodeMs: [1000, 1000, 1000] })).toBe(3);
    }
  });

  it('eager admits whenever there is room; drain waits for the running batch', () => {
    const state = { running: 5, drainMs: 100, encodeMs: [1000, 1000] };
    expect(admissionCount('eager', state)).toBe(2);
    expect(admissionCount('drain', state)).toBe(0);
  });

  it('adaptive admits when the running requests lose less than the newcomers save (R · E(n) ≤ n · W)', () => {
    // 1 running request with 19 steps of 100 ms left; a newcomer costs 1.4 s: 1 × 1.4 ≤ 1.9 → admit them all.
    expect(admissionCount('adaptive', { running: 1, drainMs: 1900, encodeMs: [1400, 1400, 1400] })).toBe(3);
    // 9 running: 9 × 1.4 s > 1.9 s → let them finish first.
    expect(admissionCount('adaptive', { running: 9, drainMs: 1900, encodeMs: [1400, 1400] })).toBe(0);
    // Cheap newcomers (cached images) join a busy batch.
    expect(admissionCount('adaptive', { running: 9, drainMs: 1900, encodeMs: [150, 150] })).toBe(2);
    // The longest prefix that pays: an expensive head is admitted with the cheap requests behind it.
    expect(admissionCount('adaptive', { running: 1, drainMs: 1000, encodeMs: [1400, 100, 100, 3000] })).toBe(3);
  });
});

describe('CostEstimates', () => {
  it('starts from the first sample, then follows with weight 0.3', () => {
    const estimates = new CostEstimates();
    estimates.observeVision(3000, 2);
    expect(estimates.visionMs).toBe(1500);
    estimates.observeVision(500, 1);
    expect(estimates.visionMs).toBeCloseTo(1200);
    estimates.observeStep(100);
    estimates.observeContexts(600, 3);
    expect([estimates.stepMs, estimates.contextMs]).toEqual([100, 200]);
  });
});
