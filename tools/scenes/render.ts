import sharp from 'sharp';
import { createRng, gaussianish } from './rng.ts';
import type { SceneSpec } from './spec.ts';
import { sceneToSvg } from './svg.ts';

/**
 * Rasterises a scene and encodes it. Noise is added to the raw pixels (not in SVG) so it is seeded and exact, and the
 * final JPEG/PNG encode is part of the variation the model has to see past.
 */
export async function renderSceneImage(spec: SceneSpec): Promise<Buffer> {
  const { width, height, noise, noiseSeed, format, quality } = spec.render;
  const raster = await sharp(Buffer.from(sceneToSvg(spec)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (raster.info.width !== width || raster.info.height !== height || raster.info.channels !== 3) {
    throw new Error(`SVG rendered as ${raster.info.width}x${raster.info.height}x${raster.info.channels}, expected ${width}x${height}x3`);
  }
  const pixels = raster.data;
  if (noise > 0) addNoise(pixels, noise, noiseSeed);
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  return format === 'png'
    ? image.png({ compressionLevel: 6 }).toBuffer()
    : image.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
}

function addNoise(pixels: Buffer, sigma: number, seed: number): void {
  const rng = createRng(seed);
  for (let i = 0; i < pixels.length; i += 1) {
    const v = Math.round(pixels[i]! + sigma * gaussianish(rng));
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}
