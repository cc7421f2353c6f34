import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resizeBicubicPil } from '../../../src/image/pil-resize.ts';
import { hasSimdResampler } from '../../../src/image/rgb-resample-simd.ts';
import { mismatches, readBytes } from '../../helpers/bytes.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures');
const TINY_IMAGES = join(FIXTURES, 'blip-tiny/images');

interface TinyIndex {
  images: { index: number; size_wh: [number, number] }[];
  tensors: Record<string, { file: string; shape: number[] }>;
}
interface ResizeCase {
  name: string;
  source: string;
  sourceShape: [number, number, number];
  channel0Only: boolean;
  in: [number, number];
  out: [number, number];
  channels: number;
  sha256: string;
  file?: string;
}

const tiny = JSON.parse(readFileSync(join(TINY_IMAGES, 'index.json'), 'utf8')) as TinyIndex;
const extra = JSON.parse(readFileSync(join(FIXTURES, 'images/index.json'), 'utf8')) as { resize: ResizeCase[] };


describe('resizeBicubicPil', () => {
  // decoded_rgb_K → resized_rgb_K isolates the resize from JPEG decoding: both sides were produced by Pillow.
  it.each(tiny.images.map((image) => [image.index, image.size_wh] as const))(
    'reproduces Pillow BICUBIC for blip-tiny image %i exactly',
    (k, [width, height]) => {
      const decoded = readBytes(join(FIXTURES, 'blip-tiny', tiny.tensors[`decoded_rgb_${k}`].file));
      const expected = tiny.tensors[`resized_rgb_${k}`];
      const [outHeight, outWidth] = expected.shape;
      const resized = resizeBicubicPil(decoded, width, height, 3, outWidth, outHeight);
      expect(resized.length).toBe(expected.shape.reduce((a, b) => a * b, 1));
      expect(mismatches(resized, readBytes(join(FIXTURES, 'blip-tiny', expected.file)))).toEqual({ count: 0, maxDiff: 0 });
    },
  );

  // Up-scaling, one axis up and one down, unchanged axes, one channel, 1×1 output, and BLIP's real 384×384: each
  // expected output is Pillow's own (test/fixtures/images/generate.py).
  it.each(extra.resize.map((c) => [c.name, c] as const))('reproduces Pillow BICUBIC exactly: %s', (_name, c) => {
    const [h, w, sourceChannels] = c.sourceShape;
    let source = readBytes(join(FIXTURES, c.source));
    if (c.channel0Only) source = source.filter((_, i) => i % sourceChannels === 0);
    expect([w, h]).toEqual(c.in);
    const resized = resizeBicubicPil(source, w, h, c.channels, c.out[0], c.out[1]);
    expect(resized.length).toBe(c.out[0] * c.out[1] * c.channels);
    if (c.file) expect(mismatches(resized, readBytes(join(FIXTURES, 'images', c.file)))).toEqual({ count: 0, maxDiff: 0 });
    expect(createHash('sha256').update(resized).digest('hex')).toBe(c.sha256);
  });

  it('returns a copy when neither axis changes', () => {
    const src = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
    const out = resizeBicubicPil(src, 4, 3, 3, 4, 3);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('keeps a constant image constant in every direction (weights are normalised)', () => {
    const src = new Uint8Array(17 * 11 * 3).fill(173);
    for (const [w, h] of [
      [5, 3],
      [40, 30],
      [17, 29],
      [3, 11],
    ]) {
      expect(resizeBicubicPil(src, 17, 11, 3, w, h).every((v) => v === 173)).toBe(true);
    }
  });

  // 3 channels run in the WebAssembly SIMD kernels, 1 and 4 in the JavaScript loops: both must agree.
  it.each([3, 4])('treats every channel independently: a %i-channel resize equals one 1-channel resize per channel', (channels) => {
    const [w, h] = [23, 19];
    const src = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 7919 + (i >> 3) * 13) % 256);
    for (const [outW, outH] of [
      [31, 8],
      [9, 40],
      [23, 7],
      [5, 19],
    ]) {
      const all = resizeBicubicPil(src, w, h, channels, outW, outH);
      for (let c = 0; c < channels; c++) {
        const plane = src.filter((_, i) => i % channels === c);
        expect(all.filter((_, i) => i % channels === c)).toEqual(resizeBicubicPil(plane, w, h, 1, outW, outH));
      }
    }
  });

  it('skips the unchanged axis: resizing only the width equals resizing each row as a 1-row image', () => {
    const [w, h] = [29, 5];
    const src = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 104729) % 251);
    const out = resizeBicubicPil(src, w, h, 3, 12, h);
    for (let y = 0; y < h; y++) {
      const row = resizeBicubicPil(src.subarray(y * w * 3, (y + 1) * w * 3), w, 1, 3, 12, 1);
      expect(out.subarray(y * 12 * 3, (y + 1) * 12 * 3)).toEqual(row);
    }
  });

  it('runs RGB through the WebAssembly SIMD kernels on this runtime', () => {
    expect(hasSimdResampler()).toBe(true);
  });

  it('gives the same bytes in a kept WebAssembly memory that an earlier, bigger image left full of other bytes', () => {
    const noise = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) % 251);
    const channel = (rgb: Uint8Array, c: number) => rgb.filter((_, i) => i % 3 === c);
    // One channel runs the plain JavaScript path: the reference for each channel of the RGB (SIMD) result.
    const check = (src: Uint8Array, w: number, h: number, outW: number, outH: number) => {
      const rgb = resizeBicubicPil(src, w, h, 3, outW, outH);
      for (let c = 0; c < 3; c++) expect(channel(rgb, c)).toEqual(resizeBicubicPil(channel(src, c), w, h, 1, outW, outH));
    };
    check(noise(700 * 500 * 3, 1), 700, 500, 384, 384);
    check(noise(37 * 23 * 3, 2), 37, 23, 13, 41);
    check(noise(5 * 300 * 3, 3), 5, 300, 64, 7);
  });

  it('refuses sizes that are not positive integers and buffers of the wrong length', () => {
    const src = new Uint8Array(2 * 2 * 3);
    expect(() => resizeBicubicPil(src, 2, 2, 3, 0, 2)).toThrow('Expected a positive integer for outWidth but received 0');
    expect(() => resizeBicubicPil(src, 2, 2, 3, 2, 1.5)).toThrow('Expected a positive integer for outHeight but received 1.5');
    expect(() => resizeBicubicPil(src, 3, 2, 3, 2, 2)).toThrow('Expected 18 bytes (3×2×3) for src but received 12');
  });
});
