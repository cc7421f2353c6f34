import type { Outline } from './outline.ts';
import type { BackgroundPaint, Rgb8 } from './palette.ts';
import type { SecondRng } from './rng.ts';

/** Float RGB pixels (0..255), row-major; drawn into directly, no vector format in between. */
export interface Raster {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Anti-aliasing: 16 coverage samples per pixel in an "n-rooks" pattern (each row and column of a 16x16 sub-grid holds
 * exactly one sample), so near-horizontal and near-vertical edges get 16 coverage levels, not 4.
 */
const SAMPLES: ReadonlyArray<readonly [number, number]> = Array.from({ length: 16 }, (_, k) => [(k + 0.5) / 16, (((k * 7) % 16) + 0.5) / 16] as const);

export function createRaster(width: number, height: number): Raster {
  return { width, height, data: new Float32Array(width * height * 3) };
}

/** A soft radial falloff from the centre tone to the corner tone. */
export function paintBackground(raster: Raster, paint: BackgroundPaint): void {
  const { width, height, data } = raster;
  const half = Math.hypot(width / 2, height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (Math.hypot(x + 0.5 - width / 2, y + 0.5 - height / 2) / half) ** 2;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = paint.centre[c]! + (paint.corner[c]! - paint.centre[c]!) * t;
    }
  }
}

/** Blends `rgb` over the pixels the outline covers, weighted by the share of samples inside. */
export function fillOutline(raster: Raster, outline: Outline, cx: number, cy: number, rgb: Rgb8): void {
  const { width, height, data } = raster;
  const x0 = Math.max(0, Math.floor(cx - outline.reach - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + outline.reach + 1));
  const y0 = Math.max(0, Math.floor(cy - outline.reach - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + outline.reach + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let hits = 0;
      for (const [sx, sy] of SAMPLES) if (outline.inside(x + sx, y + sy)) hits++;
      if (hits === 0) continue;
      const a = hits / SAMPLES.length;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = data[o + c]! * (1 - a) + rgb[c]! * a;
    }
  }
}

/**
 * Sensor-like noise: a luminance part shared by the three channels plus a smaller independent part per channel,
 * then rounding to 8 bits.
 */
export function toBytes(raster: Raster, sigma: number, rng: SecondRng): Uint8Array {
  const out = new Uint8Array(raster.data.length);
  for (let i = 0; i < raster.data.length; i += 3) {
    const shared = sigma > 0 ? 0.8 * sigma * rng.normal() : 0;
    for (let c = 0; c < 3; c++) {
      const v = raster.data[i + c]! + shared + (sigma > 0 ? 0.6 * sigma * rng.normal() : 0);
      out[i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return out;
}
