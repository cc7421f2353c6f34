/**
 * The int8 quality figures of issue 12 item 2 on two loaded captioning models (fp32 and its int8 twin from the same
 * weights): image-embedding cosine per image and teacher-forced top-1 agreement, on generated scenes (tools/scenes),
 * pictures with flat regions and edges, resized like any upload. Shared by `npm run quality:int8` (the gate) and
 * `npm run bench` (`int8_quality`).
 */
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import type { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { preprocessImage } from '../../src/models/blip/runtime/preprocess.ts';
import { datasetScene } from '../scenes/index.ts';
import { compareCaptionModels, type Int8Comparison } from './int8-compare.ts';

export const INT8_GATE = { embeddingCosine: 0.99, top1Agreement: 0.97 };
/** The scenes' dataset seed: the same pictures in every run. */
const SCENE_SEED = 20261207;

export interface Int8Quality {
  comparison: Int8Comparison;
  /** The preprocessed pictures `[images, 3, H, W]` (for further checks on the same inputs). */
  pixels: Float32Array;
  minCosine: number;
  meanCosine: number;
  passed: boolean;
}

export async function scenePixels(model: BlipModel, images: number): Promise<Float32Array> {
  const { preprocess } = model.manifest;
  const one = preprocess.width * preprocess.height * 3;
  const pixels = new Float32Array(images * one);
  for (let i = 0; i < images; i++) {
    const scene = await datasetScene(SCENE_SEED, i);
    pixels.set(await preprocessImage(new Uint8Array(scene.image), preprocess, DEFAULT_IMAGE_LIMITS), i * one);
  }
  return pixels;
}

export async function measureInt8Quality(fp32: BlipModel, int8: BlipModel, images: number, steps: number): Promise<Int8Quality> {
  const pixels = await scenePixels(fp32, images);
  const comparison = await compareCaptionModels(fp32, int8, pixels, images, steps);
  const minCosine = Math.min(...comparison.embeddingCosines);
  const meanCosine = comparison.embeddingCosines.reduce((a, b) => a + b, 0) / images;
  const passed = minCosine >= INT8_GATE.embeddingCosine && comparison.top1Agreement >= INT8_GATE.top1Agreement;
  return { comparison, pixels, minCosine, meanCosine, passed };
}
