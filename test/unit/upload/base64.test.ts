import { describe, expect, it } from 'vitest';
import { decodeBase64Image } from '../../../src/upload/base64.ts';

const payload = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xfb, 0xff, 0xfe]);
const standard = Buffer.from(payload).toString('base64');

describe('decodeBase64Image', () => {
  it('decodes standard and URL-safe base64, with or without padding and line breaks, and data: URLs', () => {
    for (const text of [
      standard,
      standard.replace(/=+$/, ''),
      Buffer.from(payload).toString('base64url'),
      `${standard.slice(0, 4)}\n${standard.slice(4)}`,
      `data:image/png;base64,${standard}`,
      `DATA:application/octet-stream;BASE64,${standard}`,
    ]) {
      expect(decodeBase64Image(text, 100)).toEqual(payload);
    }
  });

  it('returns bytes that own their buffer (transferable to a worker)', () => {
    const bytes = decodeBase64Image(standard, 100);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  it.each([
    ['', 'Expected image bytes for image.base64 but received an empty string'],
    ['abc$', 'Expected base64 (or a data: URL) for image.base64 but the text is not valid base64'],
    ['abcde', 'Expected base64 (or a data: URL) for image.base64 but the text is not valid base64'],
    ['data:image/png,rawdata', 'Expected a base64 data URL (data:<type>;base64,...) for image.base64 but received a data URL without ;base64'],
    ['data:nothing', 'Expected a data URL of the form data:<type>;base64,<data> for image.base64'],
  ])('refuses %j with BAD_USER_INPUT', (text, message) => {
    expect(() => decodeBase64Image(text, 100)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', message }));
  });

  it('refuses an image over the limit before decoding it', () => {
    expect(() => decodeBase64Image('A'.repeat(400_000), 1000)).toThrow(
      expect.objectContaining({ code: 'IMAGE_TOO_LARGE', message: 'Expected an image of at most 1000 bytes but received 300000 bytes' }),
    );
  });
});
