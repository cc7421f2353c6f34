/**
 * The statistics every repeated figure of the bench is reported with: median, min and max over the repetitions, and
 * a flag when the spread is too wide to trust the median (issue 12: flagged, never hidden).
 */
import { median, round } from './common.ts';

/** (max − min) / median above this marks a figure as untrustworthy. */
export const SPREAD_LIMIT = 0.25;

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max − min) / median; 0 for a single value. */
  spread: number;
  spread_flag: boolean;
  /** Every repetition's value, in the order measured. */
  values: number[];
}

export function summarize(values: readonly number[], digits = 1): Summary {
  if (values.length === 0) throw new RangeError('Expected at least one value to summarize but received none');
  if (values.some((v) => !Number.isFinite(v))) throw new RangeError(`Expected finite values but received ${JSON.stringify(values)}`);
  const mid = median([...values]);
  const min = Math.min(...values);
  const max = Math.max(...values);
  // A zero median with any spread is as untrustworthy as it gets; with none, there is nothing to flag.
  const spread = mid === 0 ? (max === min ? 0 : Infinity) : (max - min) / Math.abs(mid);
  return {
    median: round(mid, digits),
    min: round(min, digits),
    max: round(max, digits),
    spread: Number.isFinite(spread) ? round(spread, 3) : spread,
    spread_flag: spread > SPREAD_LIMIT,
    values: values.map((v) => round(v, digits)),
  };
}

/** Paired ratios a[i] / b[i] (repetitions measured side by side), summarized. */
export function pairedRatios(a: readonly number[], b: readonly number[], digits = 3): Summary {
  if (a.length !== b.length) throw new RangeError(`Expected paired values but received ${a.length} and ${b.length}`);
  return summarize(
    a.map((x, i) => x / b[i]),
    digits,
  );
}

/** "1.23 [1.10–1.40]" with a loud marker when the spread is flagged. */
export function formatSummary(s: Summary): string {
  return `${s.median} [${s.min}–${s.max}]${s.spread_flag ? ` !SPREAD ${Math.round(s.spread * 100)}%` : ''}`;
}

/** The order of the cells in repetition `rep`: rotated by one each time, so that no cell always runs first or last. */
export function rotate<T>(cells: readonly T[], rep: number): T[] {
  if (cells.length === 0) return [];
  const k = ((rep % cells.length) + cells.length) % cells.length;
  return [...cells.slice(k), ...cells.slice(0, k)];
}
