import { afterAll, beforeAll } from 'vitest';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { BlipPipeline } from '../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { readManifest } from '../../src/variant/manifest.ts';
import { CAPTION_CHECKPOINT, VQA_CHECKPOINT, convertFixture, type TempVariant } from './fixtures.ts';

export interface ConvertedVariant {
  readonly model: BlipModel;
  readonly pipeline: BlipPipeline;
}

/**
 * For the enclosing `describe`: converts `checkpoint` (reading the chosen weights file) before its tests, loads the
 * model's sessions and a pipeline in-process, and releases everything after them.
 */
export function useConvertedVariant(checkpoint: string, weights: 'safetensors' | 'pytorch' = 'safetensors'): ConvertedVariant {
  let variant: TempVariant | undefined;
  let model: BlipModel | undefined;
  let pipeline: BlipPipeline | undefined;
  beforeAll(async () => {
    variant = await convertFixture(checkpoint, weights);
    model = await BlipModel.load(variant.dir, await readManifest(variant.dir));
    pipeline = await BlipPipeline.load(variant.dir, { imageLimits: DEFAULT_IMAGE_LIMITS });
  });
  afterAll(async () => {
    await model?.release();
    await pipeline?.release();
    await variant?.cleanup();
  });
  const loaded = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the variant is not loaded yet (use it inside tests, not at collection time)');
    return value;
  };
  return {
    get model() {
      return loaded(model);
    },
    get pipeline() {
      return loaded(pipeline);
    },
  };
}

/** For the enclosing `describe`: both tiny fixture checkpoints converted to variant folders (paths via the getters). */
export function useFixtureVariantDirs(): { readonly caption: string; readonly vqa: string } {
  let caption: TempVariant | undefined;
  let vqa: TempVariant | undefined;
  beforeAll(async () => {
    caption = await convertFixture(CAPTION_CHECKPOINT);
    vqa = await convertFixture(VQA_CHECKPOINT);
  });
  afterAll(async () => {
    await caption?.cleanup();
    await vqa?.cleanup();
  });
  const dirOf = (variant: TempVariant | undefined): string => {
    if (!variant) throw new Error('the fixture variants are not converted yet (use them inside tests)');
    return variant.dir;
  };
  return {
    get caption() {
      return dirOf(caption);
    },
    get vqa() {
      return dirOf(vqa);
    },
  };
}
