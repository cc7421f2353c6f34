import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointError } from '../../../errors.ts';
import { describeValue } from '../../../checkpoint/describe-value.ts';

/**
 * `preprocessor_config.json` of a BLIP checkpoint, read the way transformers' slow `BlipImageProcessor` reads it
 * (blip-spec.md §1.5 and §7): keys that are absent take the class defaults. The result is plain JSON data because the
 * converter copies it into the variant manifest.
 */
export interface PreprocessorConfig {
  /** Output width in pixels (the processor stretches every image to width × height; no crop, no letterbox). */
  width: number;
  height: number;
  /** PIL resampling filter; BICUBIC (3) is the only one implemented, and the one every BLIP checkpoint uses. */
  resample: 'bicubic';
  doResize: boolean;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: [number, number, number];
  std: [number, number, number];
  doConvertRgb: boolean;
}

export const PREPROCESSOR_CONFIG_FILE = 'preprocessor_config.json';

/** transformers' `OPENAI_CLIP_MEAN` / `OPENAI_CLIP_STD`, BlipImageProcessor's defaults. */
const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** BlipImageProcessor's default `size`. */
const DEFAULT_SIZE = 384;
/** `PILImageResampling.BICUBIC`. */
const PIL_BICUBIC = 3;
const PIL_FILTER_NAMES: Record<number, string> = { 0: 'NEAREST', 1: 'LANCZOS', 2: 'BILINEAR', 3: 'BICUBIC', 4: 'BOX', 5: 'HAMMING' };
/** Image processors whose preprocessing is the one implemented here (the Fast one is the same recipe on torchvision). */
const BLIP_PROCESSOR_TYPES = new Set(['BlipImageProcessor', 'BlipImageProcessorFast']);

/** Reads and validates `<dir>/preprocessor_config.json`. */
export async function readPreprocessorConfig(dir: string): Promise<PreprocessorConfig> {
  const file = join(dir, PREPROCESSOR_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw checkpointError(file, `Expected a readable preprocessor config but reading failed (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw checkpointError(file, `Expected valid JSON but parsing failed (${(cause as Error).message})`, cause);
  }
  return parsePreprocessorConfig(json, file);
}

/** Applies BlipImageProcessor's defaults and checks every value; `file` only names the source in error messages. */
export function parsePreprocessorConfig(json: unknown, file: string): PreprocessorConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw checkpointError(file, `Expected a JSON object but received ${describeValue(json)}`);
  }
  const raw = json as Record<string, unknown>;
  const type = raw.image_processor_type;
  if (type !== undefined && (typeof type !== 'string' || !BLIP_PROCESSOR_TYPES.has(type))) {
    throw checkpointError(file, `Expected "BlipImageProcessor" for image_processor_type but received ${describeValue(type)}`);
  }
  const { width, height } = parseSize(raw.size, file);
  const resample = raw.resample ?? PIL_BICUBIC;
  if (resample !== PIL_BICUBIC) {
    const name = typeof resample === 'number' ? PIL_FILTER_NAMES[resample] : undefined;
    throw checkpointError(
      file,
      `Expected resample 3 (PIL BICUBIC, the only filter implemented) but received ${describeValue(resample)}${name ? ` (${name})` : ''}`,
    );
  }
  const rescaleFactor = raw.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !Number.isFinite(rescaleFactor) || rescaleFactor <= 0) {
    throw checkpointError(file, `Expected a positive number for rescale_factor but received ${describeValue(rescaleFactor)}`);
  }
  return {
    width,
    height,
    resample: 'bicubic',
    doResize: parseFlag(raw, 'do_resize', file),
    doRescale: parseFlag(raw, 'do_rescale', file),
    rescaleFactor,
    doNormalize: parseFlag(raw, 'do_normalize', file),
    mean: parseTriple(raw.image_mean, CLIP_MEAN, 'image_mean', file, false),
    std: parseTriple(raw.image_std, CLIP_STD, 'image_std', file, true),
    doConvertRgb: parseFlag(raw, 'do_convert_rgb', file),
  };
}

// Private: `size` as transformers' get_size_dict(size, default_to_square=True) reads it, restricted to what
// BlipImageProcessor.resize accepts (it raises unless the dict has both height and width).
function parseSize(size: unknown, file: string): { width: number; height: number } {
  if (size === undefined || size === null) return { width: DEFAULT_SIZE, height: DEFAULT_SIZE };
  if (typeof size === 'number') {
    return { width: positiveInt(size, 'size', file), height: positiveInt(size, 'size', file) };
  }
  if (Array.isArray(size) && size.length === 2) {
    return { height: positiveInt(size[0], 'size[0]', file), width: positiveInt(size[1], 'size[1]', file) };
  }
  if (typeof size === 'object' && !Array.isArray(size)) {
    const dict = size as Record<string, unknown>;
    if ('height' in dict && 'width' in dict) {
      return { height: positiveInt(dict.height, 'size.height', file), width: positiveInt(dict.width, 'size.width', file) };
    }
  }
  throw checkpointError(
    file,
    `Expected size as an integer or {"height","width"} (BLIP's processor stretches to a fixed size and cannot resize by shortest_edge/longest_edge) but received ${describeValue(size)}`,
  );
}

// Private.
function positiveInt(value: unknown, field: string, file: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw checkpointError(file, `Expected a positive integer for ${field} but received ${describeValue(value)}`);
}

// Private: every boolean switch of the processor defaults to true.
function parseFlag(raw: Record<string, unknown>, key: string, file: string): boolean {
  const value = raw[key];
  if (value === undefined || value === null) return true;
  if (typeof value === 'boolean') return value;
  throw checkpointError(file, `Expected a boolean for ${key} but received ${describeValue(value)}`);
}

// Private: a per-channel triple; transformers also accepts one number for all channels.
function parseTriple(
  value: unknown,
  fallback: [number, number, number],
  key: string,
  file: string,
  nonZero: boolean,
): [number, number, number] {
  if (value === undefined || value === null) return [...fallback];
  const values = typeof value === 'number' ? [value, value, value] : value;
  const ok =
    Array.isArray(values) &&
    values.length === 3 &&
    values.every((v) => typeof v === 'number' && Number.isFinite(v) && (!nonZero || v !== 0));
  if (!ok) {
    const what = nonZero ? 'three finite non-zero numbers' : 'three finite numbers';
    throw checkpointError(file, `Expected ${what} (R, G, B) for ${key} but received ${describeValue(value)}`);
  }
  return [values[0], values[1], values[2]] as [number, number, number];
}
