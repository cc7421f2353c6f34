import sharp from 'sharp';
import { describeScene } from '../scenes/describe.ts';
import type { Scene } from '../scenes/scene.ts';
import type { SceneSpec } from '../scenes/spec.ts';
import { sampleLayout, type SecondLayout } from './layout.ts';
import { outlineOf } from './outline.ts';
import { createRaster, fillOutline, paintBackground, toBytes } from './raster.ts';
import { secondRng, secondSceneSeed } from './rng.ts';

/**
 * A held-out scene from the second renderer: same scene language (caption, questions and answers from
 * tools/scenes/describe.ts), drawn by this folder's own rasterizer. sharp only encodes the finished pixels.
 * Evaluation only: nothing may train or tune on these scenes.
 */
export async function secondScene(setSeed: number, index: number): Promise<Scene> {
  const rng = secondRng(secondSceneSeed(setSeed, index));
  const layout = sampleLayout(rng);
  const pixels = rasterize(layout, rng.int(0, 0x7fffffff));
  const image = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: layout.width, height: layout.height, channels: 3 } });
  const encoded = layout.format === 'png' ? await image.png().toBuffer() : await image.jpeg({ quality: layout.quality }).toBuffer();
  const spec = specOf(layout);
  return { spec, image: encoded, format: layout.format, ...describeScene(spec, { next: rng.float }) };
}

/** The 8-bit RGB pixels of a layout (row-major, 3 bytes per pixel), noise drawn from `noiseSeed`. */
export function rasterize(layout: SecondLayout, noiseSeed: number): Uint8Array {
  const raster = createRaster(layout.width, layout.height);
  paintBackground(raster, layout.background);
  for (const shape of layout.shapes) fillOutline(raster, outlineOf(shape), shape.cx, shape.cy, shape.rgb);
  return toBytes(raster, layout.noise, secondRng(noiseSeed));
}

/** The layout in tools/scenes' SceneSpec terms, so describeScene and the evaluation read it like any scene. */
export function specOf(layout: SecondLayout): SceneSpec {
  const { width, height } = layout;
  const m = Math.min(width, height);
  return {
    background: { color: layout.background.color, style: 'plain', rgb: layout.background.centre, rgb2: layout.background.corner, split: 'vertical', splitAt: 0.5 },
    shapes: layout.shapes.map((s) => ({
      shape: s.kind,
      color: s.color,
      size: s.size,
      position: s.position,
      cx: s.cx / width,
      cy: s.cy / height,
      radius: s.r / m,
      rotation: (s.rotation * 180) / Math.PI,
      rgb: s.rgb,
    })),
    render: { width, height, antialias: true, noise: layout.noise, noiseSeed: 0, format: layout.format, quality: layout.quality },
  };
}
