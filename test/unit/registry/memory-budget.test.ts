import { describe, expect, it } from 'vitest';
import { chooseEvictions, type LoadedCost } from '../../../src/registry/memory-budget.ts';

const loaded = (name: string, cost: number, lastUsed: number, evictable = true): LoadedCost => ({ name, cost, lastUsed, evictable });

describe('chooseEvictions', () => {
  it('evicts nothing when the variant fits', () => {
    expect(chooseEvictions(30, 100, [loaded('a', 40, 1), loaded('b', 30, 2)])).toEqual([]);
  });

  it('evicts the least recently used first, and only as many as needed', () => {
    const variants = [loaded('recent', 40, 30), loaded('oldest', 40, 10), loaded('middle', 10, 20)];
    expect(chooseEvictions(30, 100, variants)).toEqual(['oldest']);
    expect(chooseEvictions(60, 100, variants)).toEqual(['oldest', 'middle']);
    expect(chooseEvictions(100, 100, variants)).toEqual(['oldest', 'middle', 'recent']);
  });

  it('never evicts pinned or busy variants (not evictable), and evicts nothing when that is not enough', () => {
    const variants = [loaded('pinned', 50, 1, false), loaded('busy', 30, 2, false), loaded('idle', 20, 3)];
    expect(chooseEvictions(20, 100, variants)).toEqual(['idle']);
    expect(chooseEvictions(21, 100, variants)).toBeNull();
  });

  it('refuses a variant larger than the whole budget', () => {
    expect(chooseEvictions(101, 100, [])).toBeNull();
  });

  it('breaks ties in last use by name, so the order is stable', () => {
    expect(chooseEvictions(50, 100, [loaded('b', 50, 5), loaded('a', 50, 5)])).toEqual(['a']);
  });
});
