/** Takes one token for a client: 0 when granted, else the milliseconds until one is available. */
export interface RateLimiter {
  take(key: string): number | Promise<number>;
}

/**
 * Per-key token buckets: each key (a client IP) may spend `burst` requests at once, refilled continuously at
 * `perMinute` a minute. Buckets that have refilled completely carry no information and are dropped, so memory stays
 * bounded by the clients active within the last refill period.
 */
export class TokenBuckets implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();
  private readonly perMs: number;
  private lastSweep = 0;

  constructor(
    perMinute: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perMinute > 0)) throw new RangeError(`Expected a positive number for perMinute but received ${perMinute}`);
    if (!(burst >= 1)) throw new RangeError(`Expected at least 1 for burst but received ${burst}`);
    this.perMs = perMinute / 60_000;
  }

  /** Takes one token for `key`: 0 when granted, else the milliseconds until one is available. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updated) * this.perMs);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.perMs);
  }

  /** Buckets tracked now (tests). */
  get size(): number {
    return this.buckets.size;
  }

  // Private: at most once per refill period, forget buckets that are full again.
  private sweep(now: number): void {
    const refillMs = this.burst / this.perMs;
    if (now - this.lastSweep < refillMs) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updated) * this.perMs >= this.burst) this.buckets.delete(key);
    }
  }
}
