import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ServiceError } from '../../../src/errors.ts';
import { decodeImage, type ImageLimits } from '../../../src/image/decode.ts';
import { mismatches, readBytes } from '../../helpers/bytes.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures');
const LIMITS: ImageLimits = { maxBytes: 10_000_000, maxPixels: 50_000_000 };

interface TinyIndex {
  images: { index: number; file: string; size_wh: [number, number] }[];
  tensors: Record<string, { file: string; shape: number[] }>;
}
interface Expected {
  file: string;
  shape: [number, number, number];
}
interface DecodeCase {
  file: string;
  description: string;
  raw: Expected;
  oriented?: Expected;
}

const tiny = JSON.parse(readFileSync(join(FIXTURES, 'blip-tiny/images/index.json'), 'utf8')) as TinyIndex;
const extra = JSON.parse(readFileSync(join(FIXTURES, 'images/index.json'), 'utf8')) as { decode: DecodeCase[] };


async function expectServiceError(promise: Promise<unknown>, code: ErrorCode, message: RegExp | string): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(code);
  expect((error as ServiceError).message).toMatch(message);
  return error as ServiceError;
}

/** A PNG signature, an IHDR for an 8-bit RGB image of the given size, one empty IDAT and IEND. */
function pngWithHeader(width: number, height: number): Uint8Array {
  const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const chunk = (type: string, data: number[]): number[] => {
    const body = [...Buffer.from(type, 'latin1'), ...data];
    return [...u32(data.length), ...body, ...u32(zlib.crc32(Uint8Array.from(body)))];
  };
  return Uint8Array.from([
    ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    ...chunk('IHDR', [...u32(width), ...u32(height), 8, 2, 0, 0, 0]),
    ...chunk('IDAT', [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
    ...chunk('IEND', []),
  ]);
}

describe('decodeImage', () => {
  // decoded_rgb_K is np.array(PIL.Image.open(f).convert("RGB")): what BlipImageProcessor sees. The fixtures carry no
  // EXIF, so the default auto-orientation must leave them untouched.
  it.each(tiny.images.map((image) => [image.file, image] as const))('matches Pillow exactly on blip-tiny %s', async (_file, image) => {
    const decoded = await decodeImage(readBytes(join(FIXTURES, 'blip-tiny', image.file)), LIMITS);
    const [w, h] = image.size_wh;
    expect({ width: decoded.width, height: decoded.height }).toEqual({ width: w, height: h });
    const expected = readBytes(join(FIXTURES, 'blip-tiny', tiny.tensors[`decoded_rgb_${image.index}`].file));
    expect(decoded.data.length).toBe(expected.length);
    expect(mismatches(decoded.data, expected)).toEqual({ count: 0, maxDiff: 0 });
  });

  // Palette + tRNS, grey + alpha, 16-bit, 1-bit, GIF first frame and transparency, WebP, TIFF, CMYK, progressive JPEG:
  // every expected array is Pillow's own output (test/fixtures/images/generate.py).
  it.each(extra.decode.map((c) => [c.file, c] as const))('matches Pillow exactly on %s', async (_file, c) => {
    const bytes = readBytes(join(FIXTURES, 'images', c.file));
    const raw = await decodeImage(bytes, LIMITS, { autoOrient: false });
    expect([raw.height, raw.width, 3]).toEqual(c.raw.shape);
    expect(mismatches(raw.data, readBytes(join(FIXTURES, 'images', c.raw.file)))).toEqual({ count: 0, maxDiff: 0 });
    if (c.oriented) {
      const oriented = await decodeImage(bytes, LIMITS);
      expect([oriented.height, oriented.width, 3]).toEqual(c.oriented.shape);
      expect(mismatches(oriented.data, readBytes(join(FIXTURES, 'images', c.oriented.file)))).toEqual({ count: 0, maxDiff: 0 });
    }
  });

  it('returns a plain Uint8Array of width × height × 3 bytes', async () => {
    const decoded = await decodeImage(readBytes(join(FIXTURES, 'blip-tiny/images/rgba_50x90.png')), LIMITS);
    expect(Object.getPrototypeOf(decoded.data)).toBe(Uint8Array.prototype);
    expect(decoded.data.length).toBe(50 * 90 * 3);
  });

  it('accepts AVIF', async () => {
    const avif = await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .avif({ lossless: true })
      .toBuffer();
    const decoded = await decodeImage(new Uint8Array(avif), LIMITS);
    expect({ width: decoded.width, height: decoded.height }).toEqual({ width: 16, height: 8 });
    // Lossless AV1 stores YUV 4:4:4; the round trip to RGB may move a value by a step or two.
    expect(Math.abs(decoded.data[0] - 200)).toBeLessThanOrEqual(2);
  });

  it('refuses an empty upload as BAD_USER_INPUT', async () => {
    await expectServiceError(decodeImage(new Uint8Array(0), LIMITS), ErrorCode.BAD_USER_INPUT, 'Expected image bytes but received an empty file');
  });

  it('refuses files over maxBytes before looking at them', async () => {
    const bytes = readBytes(join(FIXTURES, 'blip-tiny/images/gradient_64x48.png'));
    const error = await expectServiceError(
      decodeImage(bytes, { maxBytes: bytes.length - 1, maxPixels: 1_000_000 }),
      ErrorCode.IMAGE_TOO_LARGE,
      `Expected an image of at most ${bytes.length - 1} bytes but received ${bytes.length} bytes`,
    );
    expect(error.details).toEqual({ bytes: bytes.length, maxBytes: bytes.length - 1 });
  });

  it('refuses images over maxPixels from their header', async () => {
    const bytes = readBytes(join(FIXTURES, 'blip-tiny/images/shapes_400x300.jpg'));
    await expectServiceError(
      decodeImage(bytes, { maxBytes: 1_000_000, maxPixels: 400 * 300 - 1 }),
      ErrorCode.IMAGE_TOO_LARGE,
      'Expected an image of at most 119999 pixels but received 400×300 = 120000 pixels',
    );
    // Exactly at the limit is fine.
    await expect(decodeImage(bytes, { maxBytes: 1_000_000, maxPixels: 400 * 300 })).resolves.toMatchObject({ width: 400, height: 300 });
  });

  it('refuses a decompression bomb: a 60-byte PNG that claims 30000×30000 pixels', async () => {
    const bomb = pngWithHeader(30000, 30000);
    await expectServiceError(decodeImage(bomb, LIMITS), ErrorCode.IMAGE_TOO_LARGE, /at most 50000000 pixels but received 30000×30000/);
  });

  it.each([
    ['SVG', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>', 'an SVG document'],
    ['SVG without prolog', '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>', 'an SVG document'],
    ['PDF', '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF', 'a PDF document'],
    ['HTML', '<!doctype html><html><body>hi</body></html>', 'an XML or HTML document'],
    ['BMP', 'BM\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000', 'a BMP image'],
    ['text', 'hello world', 'data in an unrecognised format'],
  ])('refuses %s as UNSUPPORTED_IMAGE_FORMAT', async (_kind, text, description) => {
    await expectServiceError(
      decodeImage(new TextEncoder().encode(text), LIMITS),
      ErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      `Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received ${description}`,
    );
  });

  it.each([
    ['shapes_400x300.jpg', 'JPEG'],
    ['gradient_64x48.png', 'PNG'],
  ])('refuses a truncated %s as IMAGE_DECODE_FAILED', async (file, name) => {
    const bytes = readBytes(join(FIXTURES, 'blip-tiny/images', file));
    const truncated = bytes.subarray(0, Math.floor(bytes.length * 0.6));
    const error = await expectServiceError(
      decodeImage(truncated, LIMITS),
      ErrorCode.IMAGE_DECODE_FAILED,
      `Expected a valid ${name} image but the data is corrupt or truncated`,
    );
    // The library's own text goes to the logs through `cause`, never into the client message.
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('refuses a PNG whose pixel data is corrupt as IMAGE_DECODE_FAILED', async () => {
    const bytes = readBytes(join(FIXTURES, 'blip-tiny/images/gradient_64x48.png')).slice();
    const idat = Buffer.from(bytes).indexOf('IDAT');
    for (let i = idat + 8; i < idat + 40; i++) bytes[i] ^= 0x5a;
    await expectServiceError(decodeImage(bytes, LIMITS), ErrorCode.IMAGE_DECODE_FAILED, 'Expected a valid PNG image but the data is corrupt or truncated');
  });

  it('refuses a JPEG signature followed by garbage as IMAGE_DECODE_FAILED', async () => {
    const bytes = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 64 }, (_, i) => (i * 31) % 256)]);
    await expectServiceError(decodeImage(bytes, LIMITS), ErrorCode.IMAGE_DECODE_FAILED, 'Expected a valid JPEG image but the data is corrupt or truncated');
  });

  it('checks its limits argument', async () => {
    const bytes = readBytes(join(FIXTURES, 'blip-tiny/images/gradient_64x48.png'));
    await expect(decodeImage(bytes, { maxBytes: 0, maxPixels: 10 })).rejects.toThrow('Expected a positive integer for limits.maxBytes but received 0');
    await expect(decodeImage(bytes, { maxBytes: 10, maxPixels: Number.NaN })).rejects.toThrow(
      'Expected a positive integer for limits.maxPixels but received NaN',
    );
  });
});
