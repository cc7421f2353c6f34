import { describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../../../../../src/models/blip/engine/embedding-cache.ts';

const embedding = (floats: number, value = 1) => new Float32Array(floats).fill(value);

describe('EmbeddingCache', () => {
  it('keys images by their bytes within a scope (weights, preprocessing, EXIF policy)', () => {
    const a = new EmbeddingCache(1024, { weights: 'w1', autoOrient: true });
    const b = new EmbeddingCache(1024, { weights: 'w2', autoOrient: true });
    const image = new Uint8Array([1, 2, 3]);
    expect(a.keyOf(image)).toBe(a.keyOf(new Uint8Array([1, 2, 3])));
    expect(a.keyOf(image)).not.toBe(a.keyOf(new Uint8Array([1, 2, 4])));
    expect(a.keyOf(image)).not.toBe(b.keyOf(image));
  });

  it('counts hits and misses, and evicts the least recently used entries by bytes', () => {
    const cache = new EmbeddingCache(100, 'scope');
    cache.set('a', embedding(10)); // 40 bytes
    cache.set('b', embedding(10));
    expect(cache.get('a')).toEqual(embedding(10)); // a is now the most recent
    cache.set('c', embedding(10)); // 120 bytes > 100: b goes
    expect(cache.has('b')).toBe(false);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, evictions: 1, bytes: 80, entries: 2, maxBytes: 100 });
  });

  it('keeps a copy, ignores what can never fit, and is off at 0 bytes', () => {
    const cache = new EmbeddingCache(64, 'scope');
    const batch = embedding(20, 7);
    cache.set('view', batch.subarray(0, 4));
    batch.fill(0);
    expect(cache.get('view')).toEqual(embedding(4, 7));
    expect(cache.get('view')?.buffer.byteLength).toBe(16);
    cache.set('big', embedding(17));
    expect(cache.has('big')).toBe(false);
    const off = new EmbeddingCache(0, 'scope');
    off.set('a', embedding(1));
    expect(off.stats().entries).toBe(0);
    expect(() => new EmbeddingCache(-1, 'scope')).toThrow('Expected a non-negative integer for maxBytes but received -1');
  });
});
