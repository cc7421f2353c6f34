/**
 * Reading the server's Prometheus histograms and gauges (GET /metrics, text format 0.0.4) for one label value, and the
 * difference between two scrapes: what a stretch of the bench made the server record (encoder pass sizes, load times).
 */

export interface HistogramSnapshot {
  /** Cumulative count per upper bound (`le`), ascending, +Inf last. */
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line of the text format: its metric name, its labels and its value. */
function* samples(text: string): Generator<{ metric: string; labels: Record<string, string>; value: number }> {
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, metric, labelText = '', value] = m;
    const labels: Record<string, string> = {};
    for (const l of labelText.matchAll(LABEL)) labels[l[1]] = l[2];
    yield { metric, labels, value: Number(value) };
  }
}

const hasLabels = (found: Record<string, string>, wanted: Record<string, string>) => Object.entries(wanted).every(([k, v]) => found[k] === v);

/**
 * The histogram `name` for the series whose labels include `labels` (e.g. `{ variant: 'x' }`). A histogram the
 * server never observed for those labels reads as empty (no buckets, zero sum and count): prom-client prints a series
 * only once it has a value.
 */
export function readHistogram(text: string, name: string, labels: Record<string, string>): HistogramSnapshot {
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const { metric, labels: found, value } of samples(text)) {
    if (metric !== `${name}_bucket` && metric !== `${name}_sum` && metric !== `${name}_count`) continue;
    if (!hasLabels(found, labels)) continue;
    if (metric === `${name}_sum`) sum = value;
    else if (metric === `${name}_count`) count = value;
    else buckets.set(found.le === '+Inf' ? Infinity : Number(found.le), value);
  }
  return { buckets: [...buckets].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le), sum, count };
}

/** The value of the gauge or counter `name` for the first series whose labels include `labels`; undefined if none. */
export function readSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const sample of samples(text)) if (sample.metric === name && hasLabels(sample.labels, labels)) return sample.value;
  return undefined;
}

/** after − before, bucket by bucket (a bucket missing before counts as 0). */
export function diffHistogram(before: HistogramSnapshot, after: HistogramSnapshot): HistogramSnapshot {
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  const buckets = after.buckets.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) }));
  if (buckets.some((b) => b.count < 0) || after.count < before.count) throw new Error('The histogram went backwards between two scrapes: did the server restart?');
  return { buckets, sum: after.sum - before.sum, count: after.count - before.count };
}

/**
 * Observations per bucket range instead of cumulative counts, keyed by the integer sizes each range holds: with the
 * server's bounds 1, 2, 4, 8, … an encoder pass of 3 images lands in "3-4". Empty ranges are left out.
 */
export function bucketCounts(h: HistogramSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  let previousLe = 0;
  let previousCount = 0;
  for (const { le, count } of h.buckets) {
    const inRange = count - previousCount;
    const low = Math.floor(previousLe) + 1;
    const key = le === Infinity ? `>${previousLe}` : low >= le ? String(le) : `${low}-${le}`;
    if (inRange > 0) out[key] = inRange;
    previousLe = le;
    previousCount = count;
  }
  return out;
}

/** Adds two histograms of the same buckets (several cells of one kind). */
export function addHistograms(a: HistogramSnapshot, b: HistogramSnapshot): HistogramSnapshot {
  const byLe = new Map(a.buckets.map((x) => [x.le, x.count]));
  for (const x of b.buckets) byLe.set(x.le, (byLe.get(x.le) ?? 0) + x.count);
  return { buckets: [...byLe].map(([le, count]) => ({ le, count })).sort((x, y) => x.le - y.le), sum: a.sum + b.sum, count: a.count + b.count };
}

export const EMPTY_HISTOGRAM: HistogramSnapshot = Object.freeze({ buckets: [], sum: 0, count: 0 }) as HistogramSnapshot;
