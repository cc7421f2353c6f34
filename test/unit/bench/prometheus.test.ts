import { Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { addHistograms, bucketCounts, diffHistogram, readHistogram, readSample } from '../../../tools/bench/prometheus.ts';

/** A real prom-client histogram with the gateway's encoder-batch buckets, as the server exposes it. */
function encoderHistogram() {
  const registry = new Registry();
  const h = new Histogram({ name: 'blip_encoder_batch_size', help: 'x', labelNames: ['variant'], buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] });
  return { registry, h };
}

describe('reading and diffing Prometheus histograms', () => {
  it('reads one label value of a histogram from the text format', async () => {
    const { registry, h } = encoderHistogram();
    for (const size of [1, 3, 3, 8]) h.observe({ variant: 'a' }, size);
    h.observe({ variant: 'b' }, 16);
    const a = readHistogram(await registry.metrics(), 'blip_encoder_batch_size', { variant: 'a' });
    expect(a.count).toBe(4);
    expect(a.sum).toBe(15);
    expect(a.buckets.map((b) => [b.le, b.count])).toEqual([[1, 1], [2, 1], [4, 3], [8, 4], [16, 4], [32, 4], [64, 4], [Infinity, 4]]);
    expect(bucketCounts(a)).toEqual({ '1': 1, '3-4': 2, '5-8': 1 });
  });

  it('reads a gauge, with or without labels, and undefined for one the server does not export', async () => {
    const registry = new Registry();
    new Gauge({ name: 'blip_spare_worker_ready', help: 'x', registers: [registry] }).set(1);
    new Gauge({ name: 'blip_queue_depth', help: 'x', labelNames: ['variant'], registers: [registry] }).set({ variant: 'b' }, 7);
    const text = await registry.metrics();
    expect(readSample(text, 'blip_spare_worker_ready')).toBe(1);
    expect(readSample(text, 'blip_queue_depth', { variant: 'b' })).toBe(7);
    expect(readSample(text, 'blip_queue_depth', { variant: 'a' })).toBeUndefined();
    expect(readSample(text, 'blip_redis_up')).toBeUndefined();
  });

  it('reads a series the server never observed as empty', async () => {
    const { registry } = encoderHistogram();
    const none = readHistogram(await registry.metrics(), 'blip_encoder_batch_size', { variant: 'a' });
    expect(none).toEqual({ buckets: [], sum: 0, count: 0 });
  });

  it('gives what happened between two scrapes', async () => {
    const { registry, h } = encoderHistogram();
    h.observe({ variant: 'a' }, 2);
    const before = readHistogram(await registry.metrics(), 'blip_encoder_batch_size', { variant: 'a' });
    for (const size of [16, 12, 100]) h.observe({ variant: 'a' }, size);
    const after = readHistogram(await registry.metrics(), 'blip_encoder_batch_size', { variant: 'a' });
    const d = diffHistogram(before, after);
    expect(d.count).toBe(3);
    expect(d.sum).toBe(128);
    expect(bucketCounts(d)).toEqual({ '9-16': 2, '>64': 1 });
    // A first scrape before any observation diffs as zeros.
    expect(bucketCounts(diffHistogram({ buckets: [], sum: 0, count: 0 }, before))).toEqual({ '2': 1 });
    expect(() => diffHistogram(after, before)).toThrow(/backwards/);
  });

  it('adds the histograms of several cells', async () => {
    const { registry, h } = encoderHistogram();
    h.observe({ variant: 'a' }, 4);
    const one = readHistogram(await registry.metrics(), 'blip_encoder_batch_size', { variant: 'a' });
    const sum = addHistograms(addHistograms({ buckets: [], sum: 0, count: 0 }, one), one);
    expect(sum.count).toBe(2);
    expect(sum.sum).toBe(8);
    expect(bucketCounts(sum)).toEqual({ '3-4': 2 });
  });
});
