import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../../src/gateway/token-bucket.ts';

describe('TokenBuckets', () => {
  it('grants a burst, then one request per refill interval, per key', () => {
    let now = 0;
    const buckets = new TokenBuckets(60, 2, () => now); // one token a second
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 1000]);
    expect(buckets.take('b')).toBe(0);
    now = 500;
    expect(buckets.take('a')).toBe(500);
    now = 1000;
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(1000);
  });

  it('forgets buckets that refilled completely', () => {
    let now = 0;
    const buckets = new TokenBuckets(60, 2, () => now);
    buckets.take('a');
    buckets.take('b');
    expect(buckets.size).toBe(2);
    now = 10_000;
    buckets.take('c');
    expect(buckets.size).toBe(1);
  });

  it('checks its arguments', () => {
    expect(() => new TokenBuckets(0, 1)).toThrow('Expected a positive number for perMinute but received 0');
    expect(() => new TokenBuckets(60, 0)).toThrow('Expected at least 1 for burst but received 0');
  });
});
