/**
 * Recognises the image formats the gateway accepts from their first bytes, before any decoder sees them. libvips
 * would happily load SVG, PDF and other formats it was built with; rendering untrusted vector documents is a risk we do
 * not take, so only the raster formats below are ever handed to sharp.
 */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif';

/** Names used in client-facing messages. */
export const IMAGE_FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  gif: 'GIF',
  webp: 'WebP',
  tiff: 'TIFF',
  avif: 'AVIF',
  heif: 'HEIF',
};

/** ISO-BMFF brands (the `ftyp` box) of AVIF and of the other HEIF flavours. */
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

/** The accepted format these bytes start with, or null. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, 0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  // Classic TIFF (42) and BigTIFF (43), either byte order.
  if (startsWith(bytes, 0, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, 0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, 0, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, 0, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  return sniffHeif(bytes);
}

/** A short, client-safe description of bytes that are not an accepted format ("an SVG document", …). */
export function describeUnacceptedBytes(bytes: Uint8Array): string {
  const head = ascii(bytes, 0, Math.min(bytes.length, 512)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('%pdf-')) return 'a PDF document';
  if (head.startsWith('<')) return /<svg[\s>]/.test(head) ? 'an SVG document' : 'an XML or HTML document';
  if (ascii(bytes, 0, 2) === 'BM') return 'a BMP image';
  if (startsWith(bytes, 0, [0xff, 0x0a]) || startsWith(bytes, 4, [0x4a, 0x58, 0x4c, 0x20])) return 'a JPEG XL image';
  if (startsWith(bytes, 4, [0x6a, 0x50, 0x20, 0x20])) return 'a JPEG 2000 image';
  if (ascii(bytes, 4, 4) === 'ftyp') return 'an ISO media file that is neither AVIF nor HEIF';
  return 'data in an unrecognised format';
}

// Private: an ISO-BMFF file whose `ftyp` box lists an AVIF or HEIF brand.
function sniffHeif(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length < 16 || ascii(bytes, 4, 4) !== 'ftyp') return null;
  const boxSize = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const end = Math.min(bytes.length, boxSize >= 16 ? boxSize : 16);
  // Major brand at 8, minor version at 12, then compatible brands.
  const brands = [ascii(bytes, 8, 4)];
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(bytes, offset, 4));
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIF_BRANDS.has(brand))) return 'heif';
  return null;
}

// Private.
function startsWith(bytes: Uint8Array, offset: number, magic: number[]): boolean {
  if (bytes.length < offset + magic.length) return false;
  return magic.every((byte, i) => bytes[offset + i] === byte);
}

// Private: bytes as Latin-1 text (each byte one character), empty past the end.
function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = offset; i < offset + length && i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return text;
}
