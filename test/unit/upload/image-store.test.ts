import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryImageStore } from '../../../src/upload/image-store.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function store(options: { maxBytes?: number; maxImages?: number; ttlMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const images = new MemoryImageStore({ maxBytes: 100, maxImages: 10, ttlMs: 1000, ...options, now: () => clock.now });
  return { images, clock };
}

describe('MemoryImageStore', () => {
  it('keys images by content hash and hands out private copies', () => {
    const { images } = store();
    const original = bytes(10, 1);
    const stored = images.put(original);
    expect(stored).toEqual({ id: sha(original), bytes: 10, expiresAt: 1_001_000 });
    original.fill(9);
    const copy = images.get(stored.id);
    expect(copy).toEqual(bytes(10, 1));
    copy.fill(7);
    expect(images.get(stored.id)).toEqual(bytes(10, 1));
    expect(images.put(bytes(10, 1)).id).toBe(stored.id);
    expect(images.stats()).toEqual({ images: 1, bytes: 10 });
  });

  it('forgets an image ttl after its last use (sliding)', () => {
    const { images, clock } = store();
    const { id } = images.put(bytes(10, 1));
    clock.now += 900;
    images.get(id);
    clock.now += 900;
    expect(images.get(id)).toHaveLength(10);
    clock.now += 1000;
    expect(() => images.get(id)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', message: `Unknown or expired imageId ${id}: upload the image again` }));
    expect(images.stats()).toEqual({ images: 0, bytes: 0 });
  });

  it('evicts the least recently used images beyond the byte and count caps', () => {
    const { images } = store({ maxBytes: 30, maxImages: 2 });
    const a = images.put(bytes(10, 1));
    const b = images.put(bytes(10, 2));
    images.get(a.id);
    const c = images.put(bytes(10, 3)); // count cap: b (least recently used) goes
    expect(() => images.get(b.id)).toThrow(/Unknown or expired/);
    expect(images.stats()).toEqual({ images: 2, bytes: 20 });
    images.put(bytes(25, 4)); // byte cap: both a and c go
    expect(() => images.get(a.id)).toThrow(/Unknown or expired/);
    expect(() => images.get(c.id)).toThrow(/Unknown or expired/);
    expect(images.stats()).toEqual({ images: 1, bytes: 25 });
  });

  it('refuses empty images, images over the store size and malformed ids', () => {
    const { images } = store({ maxBytes: 30 });
    expect(() => images.put(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(() => images.put(bytes(31, 1))).toThrow(expect.objectContaining({ code: 'IMAGE_TOO_LARGE' }));
    expect(() => images.get('../etc/passwd')).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT', message: 'Expected an imageId returned by uploadImage (64 hex digits) but received "../etc/passwd"' }),
    );
  });
});
