import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocessImage, toPixelValues } from '../../../../../src/models/blip/runtime/preprocess.ts';
import { readPreprocessorConfig } from '../../../../../src/models/blip/checkpoint/preprocessor-config.ts';
import { ErrorCode, ServiceError } from '../../../../../src/errors.ts';
import type { RgbImage } from '../../../../../src/image/decode.ts';

const TINY = join(import.meta.dirname, '../../../../fixtures/blip-tiny');
const LIMITS = { maxBytes: 10_000_000, maxPixels: 10_000_000 };

interface TinyIndex {
  images: { index: number; file: string; size_wh: [number, number] }[];
  tensors: Record<string, { file: string; shape: number[] }>;
}
const index = JSON.parse(readFileSync(join(TINY, 'images/index.json'), 'utf8')) as TinyIndex;

function tensor(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(TINY, index.tensors[name].file)));
}
function floats(name: string): Float32Array {
  const bytes = tensor(name);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}
function decodedImage(k: number): RgbImage {
  const [width, height] = index.images[k].size_wh;
  return { width, height, data: tensor(`decoded_rgb_${k}`) };
}

/** Largest difference in units in the last place between two float32 arrays (0 = bit-identical values). */
function maxUlp(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    // Map the sign-magnitude float bits onto a monotonic integer line.
    const x = ia[i] < 0 ? -2147483648 - ia[i] : ia[i];
    const y = ib[i] < 0 ? -2147483648 - ib[i] : ib[i];
    max = Math.max(max, Math.abs(x - y));
  }
  return max;
}

describe('toPixelValues', async () => {
  const cfg = await readPreprocessorConfig(join(TINY, 'caption'));
  const ks = index.images.map((image) => image.index);

  // From Pillow's decoded pixels, so only resize + rescale + normalize are under test.
  it.each(ks)('reproduces pixel_values_%i bit for bit from decoded_rgb', (k) => {
    const expected = floats(`pixel_values_${k}`);
    const actual = toPixelValues([decodedImage(k)], cfg);
    expect(index.tensors[`pixel_values_${k}`].shape).toEqual([1, 3, cfg.height, cfg.width]);
    expect(actual.length).toBe(expected.length);
    expect(maxUlp(actual, expected)).toBe(0);
  });

  it('stacks a batch in order, each item equal to its single-image result', () => {
    const batch = toPixelValues(
      ks.map((k) => decodedImage(k)),
      cfg,
    );
    const plane = 3 * cfg.height * cfg.width;
    expect(batch.length).toBe(ks.length * plane);
    ks.forEach((k, n) => expect(maxUlp(batch.subarray(n * plane, (n + 1) * plane), floats(`pixel_values_${k}`))).toBe(0));
  });

  it('rescales in float64 then casts, and normalizes in float32 (the reference is reachable from the rescaled values)', () => {
    const rescaled = toPixelValues([decodedImage(4)], { ...cfg, doNormalize: false });
    const resized = tensor('resized_rgb_4');
    const plane = cfg.height * cfg.width;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < plane; i++) expect(rescaled[c * plane + i]).toBe(Math.fround(resized[i * 3 + c] * cfg.rescaleFactor));
    }
    const renormalized = rescaled.map((x, i) => {
      const c = Math.floor(i / plane);
      return Math.fround(Math.fround(x - Math.fround(cfg.mean[c])) / Math.fround(cfg.std[c]));
    });
    expect(maxUlp(renormalized, floats('pixel_values_4'))).toBe(0);
  });

  it('without resizing keeps the image size and refuses a batch of mixed sizes', () => {
    const raw = toPixelValues([decodedImage(0)], { ...cfg, doResize: false, doNormalize: false, doRescale: false });
    const [w, h] = index.images[0].size_wh;
    expect(raw.length).toBe(3 * w * h);
    expect(raw[w * h]).toBe(tensor('decoded_rgb_0')[1]); // channel 1, pixel 0
    let error: unknown;
    try {
      toPixelValues([decodedImage(0), decodedImage(1)], { ...cfg, doResize: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe(ErrorCode.BAD_USER_INPUT);
    expect((error as ServiceError).message).toBe('Expected every image to be 64×48 (the processor does not resize) but image 1 is 20×20');
  });

  it('refuses an empty batch and a buffer that does not match its size', () => {
    expect(() => toPixelValues([], cfg)).toThrow('Expected at least one image for images but received 0');
    expect(() => toPixelValues([{ width: 2, height: 2, data: new Uint8Array(11) }], cfg)).toThrow(
      'Expected 12 bytes (2×2×3) for images[0].data but received 11',
    );
  });
});

describe('preprocessImage', async () => {
  const cfg = await readPreprocessorConfig(join(TINY, 'vqa'));

  // End to end from the file bytes: sharp's decode matches Pillow on all five (PNG and JPEG), so this is exact too.
  it.each(index.images.map((image) => [image.file, image.index] as const))('reproduces pixel_values from %s', async (file, k) => {
    const actual = await preprocessImage(new Uint8Array(readFileSync(join(TINY, file))), cfg, LIMITS);
    expect(maxUlp(actual, floats(`pixel_values_${k}`))).toBe(0);
  });
});
