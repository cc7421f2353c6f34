import { describe, expect, it } from 'vitest';
import { countFlagged } from '../../../tools/bench/report.ts';
import { formatSummary, pairedRatios, rotate, SPREAD_LIMIT, summarize } from '../../../tools/bench/stats.ts';

describe('bench statistics', () => {
  it('gives median, min, max and the spread relative to the median', () => {
    const s = summarize([10, 12, 11]);
    expect(s).toEqual({ median: 11, min: 10, max: 12, spread: 0.182, spread_flag: false, values: [10, 12, 11] });
  });

  it('flags a spread over 25 % of the median and not one at exactly 25 %', () => {
    expect(SPREAD_LIMIT).toBe(0.25);
    expect(summarize([8, 10, 10.5]).spread_flag).toBe(false); // (10.5 − 8) / 10 = 0.25 exactly: not over
    expect(summarize([8, 10, 10.5]).spread).toBe(0.25);
    expect(summarize([8, 10, 10.6]).spread_flag).toBe(true);
    expect(summarize([8, 10, 10.6]).spread).toBe(0.26);
  });

  it('flags any spread around a zero median and none for equal zeros', () => {
    expect(summarize([0, 0, 1]).spread_flag).toBe(true);
    expect(summarize([0, 0, 0]).spread_flag).toBe(false);
  });

  it('refuses no values and non-finite values', () => {
    expect(() => summarize([])).toThrow(/at least one value/);
    expect(() => summarize([1, Number.NaN])).toThrow(/finite/);
  });

  it('summarizes paired ratios element by element', () => {
    const s = pairedRatios([2, 3, 4], [1, 2, 4]);
    expect(s.values).toEqual([2, 1.5, 1]);
    expect(s.median).toBe(1.5);
    expect(() => pairedRatios([1], [1, 2])).toThrow(/paired/);
  });

  it('marks a flagged figure in the table', () => {
    expect(formatSummary(summarize([1, 2, 3]))).toBe('2 [1–3] !SPREAD 100%');
    expect(formatSummary(summarize([10, 10, 11]))).toBe('10 [10–11]');
  });

  it('rotates the cell order by one per repetition, so each cell runs first once per cycle', () => {
    const cells = ['a', 'b', 'c'];
    expect([0, 1, 2, 3].map((rep) => rotate(cells, rep).join(''))).toEqual(['abc', 'bca', 'cab', 'abc']);
    expect(rotate([], 2)).toEqual([]);
  });
});

describe('counting flagged figures in a result', () => {
  it('counts every flagged summary, however deeply nested, and nothing else', () => {
    const wide = summarize([1, 2, 3]);
    const narrow = summarize([10, 10, 11]);
    const result = { caption: [{ spread_flag: true, stats: { a: wide, b: narrow, c: wide } }], load: { fp32: { metric: wide } }, other: 3 };
    expect(countFlagged(result)).toBe(3);
    expect(countFlagged({ caption: [{ stats: { a: narrow } }] })).toBe(0);
  });
});
