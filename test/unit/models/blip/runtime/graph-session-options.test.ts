import { describe, expect, it } from 'vitest';
import { visionSessionOptions } from '../../../../../src/models/blip/runtime/graph-session-options.ts';

describe('visionSessionOptions', () => {
  it('turns the CPU arena on for the vision encoder and keeps the rest of the caller options', () => {
    expect(visionSessionOptions({ intraOpThreads: 2, allowSpinning: false })).toEqual({ intraOpThreads: 2, allowSpinning: false, memory: { cpuArena: true } });
  });

  it('keeps the memory settings a caller chose, the arena included', () => {
    // Tools that measure memory (tools/bench/memory-breakdown.ts) must be able to turn it off again.
    expect(visionSessionOptions({ memory: { cpuArena: false, prepacking: false } })).toEqual({ memory: { cpuArena: false, prepacking: false } });
    expect(visionSessionOptions({ memory: { memoryPattern: true } })).toEqual({ memory: { cpuArena: true, memoryPattern: true } });
  });
});
