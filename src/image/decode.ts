import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { ErrorCode, ServiceError } from '../errors.ts';
import { gifTransparentColour } from './gif-transparency.ts';
import { describeUnacceptedBytes, IMAGE_FORMAT_NAMES, sniffImageFormat, type ImageFormat } from './sniff-format.ts';

/** Decoded pixels: `height` rows of `width` pixels, 3 bytes (R, G, B) each. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Refuse inputs above these sizes before decoding them. */
export interface ImageLimits {
  /** Size of the encoded file. */
  maxBytes: number;
  /** width × height, read from the header. */
  maxPixels: number;
}

export interface DecodeOptions {
  /**
   * Apply the EXIF Orientation tag (default true), so the model sees the picture the way a person does.
   *
   * Policy: BLIP's image processor never rotates, but transformers' `load_image` (what pipelines use for paths and
   * URLs) runs `ImageOps.exif_transpose` first, and a phone photo stored sideways gets worse captions. With false the
   * pixels are exactly what `PIL.Image.open(f).convert("RGB")` gives. Images without the tag are unaffected either way.
   */
  autoOrient?: boolean;
}

/**
 * Decodes an uploaded image into 8-bit RGB the way Pillow's `Image.open(f).convert("RGB")` does, which is what
 * BlipImageProcessor works on: alpha is dropped WITHOUT compositing (the colour under a transparent pixel stays),
 * grey is replicated, palettes are expanded, GIFs give their first frame, 16-bit RGB keeps the high byte, 16-bit
 * grey is clipped to 255 (Pillow's mode "I" conversion), CMYK uses Pillow's formula, and embedded ICC profiles are
 * ignored (Pillow does not colour-manage).
 *
 * @throws ServiceError BAD_USER_INPUT for empty input (the request carried no image, there was nothing to decode);
 *   IMAGE_TOO_LARGE over either limit; UNSUPPORTED_IMAGE_FORMAT for anything but JPEG, PNG, WebP, GIF, TIFF,
 *   AVIF/HEIF; IMAGE_DECODE_FAILED when an accepted format is corrupt or truncated.
 */
export async function decodeImage(bytes: Uint8Array, limits: ImageLimits, options: DecodeOptions = {}): Promise<RgbImage> {
  checkLimit(limits.maxBytes, 'limits.maxBytes');
  checkLimit(limits.maxPixels, 'limits.maxPixels');
  if (bytes.length === 0) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected image bytes but received an empty file');
  }
  if (bytes.length > limits.maxBytes) {
    throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${limits.maxBytes} bytes but received ${bytes.length} bytes`, {
      details: { bytes: bytes.length, maxBytes: limits.maxBytes },
    });
  }
  const format = sniffImageFormat(bytes);
  if (format === null) {
    throw new ServiceError(
      ErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      `Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received ${describeUnacceptedBytes(bytes)}`,
    );
  }

  const input = {
    // Pillow refuses truncated files too (ImageFile.LOAD_TRUNCATED_IMAGES is off); lesser libjpeg warnings pass in both.
    failOn: 'truncated',
    // A second guard: sharp checks the header against it again before decoding pixels.
    limitInputPixels: limits.maxPixels,
    ignoreIcc: true,
    autoOrient: options.autoOrient ?? true,
  } satisfies SharpOptions;

  let meta: Metadata;
  try {
    // Header only; the pixel limit is checked below with a precise message (and again by sharp when decoding).
    meta = await sharp(bytes, { ...input, limitInputPixels: false }).metadata();
  } catch (cause) {
    throw decodeError(cause, format);
  }
  // The sniffed format decided what we accept; make sure libvips picked the matching loader.
  const expectedLoader = format === 'avif' ? 'heif' : format;
  if (meta.format !== expectedLoader) {
    throw new ServiceError(ErrorCode.IMAGE_DECODE_FAILED, `Expected a valid ${IMAGE_FORMAT_NAMES[format]} image but the data could not be read as one`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > limits.maxPixels) {
    throw new ServiceError(
      ErrorCode.IMAGE_TOO_LARGE,
      `Expected an image of at most ${limits.maxPixels} pixels but received ${meta.width}×${meta.height} = ${pixels} pixels`,
      { details: { width: meta.width, height: meta.height, maxPixels: limits.maxPixels } },
    );
  }

  try {
    if (meta.space === 'cmyk') return await decodeCmyk(bytes, input);
    if (meta.space === 'grey16' && meta.channels === 1) return await decodeGrey16(bytes, input);
    return await decodeRgb(bytes, input, format);
  } catch (cause) {
    if (cause instanceof ServiceError) throw cause;
    throw decodeError(cause, format);
  }
}

// Private: every colour space libvips converts the way Pillow does (sRGB, grey, palette, 16-bit RGB → high byte).
async function decodeRgb(bytes: Uint8Array, input: SharpOptions, format: ImageFormat): Promise<RgbImage> {
  const transparent = format === 'gif' ? gifTransparentColour(bytes) : null;
  if (transparent !== null) {
    const { data, info } = await sharp(bytes, input).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels === 4) return paintTransparent(data, info.width, info.height, transparent);
    return rgbResult(data, info);
  }
  const { data, info } = await sharp(bytes, input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return rgbResult(data, info);
}

// Private: CMYK (JPEG or TIFF). libvips would convert through an ICC profile; Pillow's cmyk2rgb is
// R = (255 − K) − round((255 − K) · C / 255) with its own integer rounding, and likewise for G/M and B/Y.
async function decodeCmyk(bytes: Uint8Array, input: SharpOptions): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, input)
    .pipelineColourspace('cmyk')
    .toColourspace('cmyk')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`CMYK decode gave ${info.channels} channels`);
  const pixels = info.width * info.height;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const notK = 255 - data[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      // Pillow's MULDIV255: (x + 128 + ((x + 128) >> 8)) >> 8 ≈ x / 255 rounded.
      const t = data[i * 4 + c] * notK + 128;
      const v = notK - (((t >> 8) + t) >> 8);
      rgb[i * 3 + c] = v < 0 ? 0 : v;
    }
  }
  return { width: info.width, height: info.height, data: rgb };
}

// Private: 16-bit grey without alpha. Pillow opens it as mode "I" and convert("RGB") clips every value above 255
// to 255 (it does not scale), so a full-range 16-bit image comes out mostly white; matching that is the price of
// seeing what the reference model sees. (16-bit grey WITH alpha opens as "LA" with the high byte, the default path.)
async function decodeGrey16(bytes: Uint8Array, input: SharpOptions): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, input).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`16-bit grey decode gave ${info.channels} channels`);
  const pixels = info.width * info.height;
  const values = new Uint16Array(data.buffer, data.byteOffset, pixels);
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const v = values[i] > 255 ? 255 : values[i];
    rgb[i * 3] = v;
    rgb[i * 3 + 1] = v;
    rgb[i * 3 + 2] = v;
  }
  return { width: info.width, height: info.height, data: rgb };
}

// Private: RGBA → RGB where every fully transparent pixel takes `colour` (see gif-transparency.ts).
function paintTransparent(rgba: Uint8Array, width: number, height: number, colour: [number, number, number]): RgbImage {
  const pixels = width * height;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const clear = rgba[i * 4 + 3] === 0;
    rgb[i * 3] = clear ? colour[0] : rgba[i * 4];
    rgb[i * 3 + 1] = clear ? colour[1] : rgba[i * 4 + 1];
    rgb[i * 3 + 2] = clear ? colour[2] : rgba[i * 4 + 2];
  }
  return { width, height, data: rgb };
}

// Private: sharp hands back a Buffer; expose a plain Uint8Array view so that consumers' typed-array loops stay
// monomorphic.
function rgbResult(data: Buffer, info: OutputInfo): RgbImage {
  if (info.channels !== 3) throw new Error(`RGB decode gave ${info.channels} channels`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

// Private: sharp's error, translated into a client-safe ServiceError (sharp's text stays in `cause` for the logs).
function decodeError(cause: unknown, format: ImageFormat): ServiceError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const name = IMAGE_FORMAT_NAMES[format];
  if (/pixel limit/i.test(message)) {
    return new ServiceError(ErrorCode.IMAGE_TOO_LARGE, 'Expected an image within the pixel limit but the image is larger', { cause });
  }
  // The prebuilt libvips decodes AV1 (AVIF) but not HEVC, so most iPhone HEIC files land here.
  if (format === 'heif' && /codec|plugin|not built|unsupported/i.test(message)) {
    return new ServiceError(ErrorCode.UNSUPPORTED_IMAGE_FORMAT, 'Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received a HEIF image whose codec (usually HEVC) is not supported', {
      cause,
    });
  }
  return new ServiceError(ErrorCode.IMAGE_DECODE_FAILED, `Expected a valid ${name} image but the data is corrupt or truncated`, { cause });
}

// Private.
function checkLimit(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`Expected a positive integer for ${name} but received ${String(value)}`);
  }
}
