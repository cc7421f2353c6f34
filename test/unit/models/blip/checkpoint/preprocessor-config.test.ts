import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePreprocessorConfig, readPreprocessorConfig } from '../../../../../src/models/blip/checkpoint/preprocessor-config.ts';
import { ErrorCode, ServiceError } from '../../../../../src/errors.ts';

const TINY = join(import.meta.dirname, '../../../../fixtures/blip-tiny');

function parseError(json: unknown): ServiceError {
  try {
    parsePreprocessorConfig(json, 'preprocessor_config.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe(ErrorCode.INVALID_CHECKPOINT);
    return error as ServiceError;
  }
  throw new Error('expected parsePreprocessorConfig to throw');
}

describe('readPreprocessorConfig', () => {
  it.each(['caption', 'vqa'])('reads the blip-tiny %s config (every key present, as save_pretrained writes it)', async (dir) => {
    const cfg = await readPreprocessorConfig(join(TINY, dir));
    expect(cfg).toEqual({
      width: 32,
      height: 32,
      resample: 'bicubic',
      doResize: true,
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      doConvertRgb: true,
    });
    // JSON-serialisable: it is copied into the variant manifest as is.
    expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg);
  });

  describe('with files on disk', () => {
    let dir: string;
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('names the file when it is missing or not JSON', async () => {
      dir = await mkdtemp(join(tmpdir(), 'preprocessor-config-'));
      const file = join(dir, 'preprocessor_config.json');
      await expect(readPreprocessorConfig(dir)).rejects.toThrow(`${file}: Expected a readable preprocessor config but reading failed (ENOENT)`);
      await writeFile(file, '{ "size": 384,');
      await expect(readPreprocessorConfig(dir)).rejects.toThrow(`${file}: Expected valid JSON but parsing failed`);
      await expect(readPreprocessorConfig(dir)).rejects.toMatchObject({ code: ErrorCode.INVALID_CHECKPOINT, details: { file } });
    });
  });
});

describe('parsePreprocessorConfig', () => {
  it("applies BlipImageProcessor's defaults to the Salesforce captioning-base file (size as an int)", () => {
    // The 287-byte config of Salesforce/blip-image-captioning-base (blip-spec.md §1.5): resample, do_rescale,
    // rescale_factor and do_convert_rgb are absent.
    const cfg = parsePreprocessorConfig(
      {
        do_normalize: true,
        do_resize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_std: [0.26862954, 0.26130258, 0.27577711],
        image_processor_type: 'BlipImageProcessor',
        processor_class: 'BlipProcessor',
        size: 384,
      },
      'preprocessor_config.json',
    );
    expect(cfg).toEqual({
      width: 384,
      height: 384,
      resample: 'bicubic',
      doResize: true,
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: true,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      doConvertRgb: true,
    });
  });

  it('ignores do_pad and size_divisor (the slow v4 processor swallows them) and reads {height, width}', () => {
    const cfg = parsePreprocessorConfig(
      { do_pad: true, size_divisor: 32, resample: 3, rescale_factor: 0.00392156862745098, size: { height: 384, width: 320 } },
      'x',
    );
    expect(cfg).toMatchObject({ width: 320, height: 384 });
  });

  it('defaults everything for an empty object, and accepts one number for all channels', () => {
    expect(parsePreprocessorConfig({}, 'x')).toMatchObject({ width: 384, height: 384, mean: [0.48145466, 0.4578275, 0.40821073] });
    expect(parsePreprocessorConfig({ image_mean: 0.5, image_std: 0.5 }, 'x')).toMatchObject({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(parsePreprocessorConfig({ do_normalize: false, do_convert_rgb: false }, 'x')).toMatchObject({
      doNormalize: false,
      doConvertRgb: false,
    });
  });

  it('refuses size by shortest_edge, which BLIP cannot resize with', () => {
    expect(parseError({ size: { shortest_edge: 384 } }).message).toBe(
      'preprocessor_config.json: Expected size as an integer or {"height","width"} (BLIP\'s processor stretches to a fixed size and cannot resize by shortest_edge/longest_edge) but received {"shortest_edge":384}',
    );
    expect(parseError({ size: { height: 0, width: 384 } }).message).toBe(
      'preprocessor_config.json: Expected a positive integer for size.height but received 0',
    );
  });

  it('refuses every resample filter but bicubic, naming it', () => {
    expect(parseError({ resample: 2 }).message).toBe(
      'preprocessor_config.json: Expected resample 3 (PIL BICUBIC, the only filter implemented) but received 2 (BILINEAR)',
    );
    expect(parseError({ resample: 'bicubic' }).message).toBe(
      'preprocessor_config.json: Expected resample 3 (PIL BICUBIC, the only filter implemented) but received "bicubic"',
    );
  });

  it('refuses malformed values, naming the key and the value', () => {
    expect(parseError([]).message).toBe('preprocessor_config.json: Expected a JSON object but received []');
    expect(parseError({ do_resize: 'yes' }).message).toBe('preprocessor_config.json: Expected a boolean for do_resize but received "yes"');
    expect(parseError({ rescale_factor: 0 }).message).toBe('preprocessor_config.json: Expected a positive number for rescale_factor but received 0');
    expect(parseError({ image_std: [0.2, 0, 0.2] }).message).toBe(
      'preprocessor_config.json: Expected three finite non-zero numbers (R, G, B) for image_std but received [0.2,0,0.2]',
    );
    expect(parseError({ image_mean: [0.5, 0.5] }).message).toBe(
      'preprocessor_config.json: Expected three finite numbers (R, G, B) for image_mean but received [0.5,0.5]',
    );
    expect(parseError({ image_processor_type: 'CLIPImageProcessor' }).message).toBe(
      'preprocessor_config.json: Expected "BlipImageProcessor" for image_processor_type but received "CLIPImageProcessor"',
    );
  });
});
