import type { ImageLimits } from '../image/decode.ts';

/**
 * Image limits when nothing else is configured: 20 MiB of encoded bytes and 50 megapixels decoded (a 50 MP phone photo
 * decodes to 150 MB of RGB; a decompression bomb is refused before any pixel is decoded).
 */
export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };
