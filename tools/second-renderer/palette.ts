import type { BackgroundColor, ShapeColor } from '../scenes/vocabulary.ts';
import type { SecondRng } from './rng.ts';

export type Rgb8 = [number, number, number];

/**
 * Shades per colour name as HSL ranges (hue degrees, saturation and lightness 0..1), chosen from what people call
 * these colours rather than from the training generator's RGB table.
 */
export const SHADE_RANGES: Readonly<Record<ShapeColor, { hue: [number, number]; sat: [number, number]; light: [number, number] }>> = {
  red: { hue: [-6, 7], sat: [0.65, 0.9], light: [0.4, 0.54] },
  green: { hue: [112, 142], sat: [0.5, 0.8], light: [0.3, 0.44] },
  blue: { hue: [216, 232], sat: [0.65, 0.9], light: [0.44, 0.58] },
  yellow: { hue: [48, 56], sat: [0.85, 1], light: [0.5, 0.6] },
  orange: { hue: [24, 32], sat: [0.85, 1], light: [0.5, 0.58] },
  purple: { hue: [268, 286], sat: [0.45, 0.7], light: [0.36, 0.5] },
  white: { hue: [0, 360], sat: [0, 0.08], light: [0.95, 1] },
  black: { hue: [0, 360], sat: [0, 0.1], light: [0.02, 0.12] },
};

export function shadeOf(rng: SecondRng, color: ShapeColor): Rgb8 {
  const r = SHADE_RANGES[color];
  return hslToRgb(rng.range(r.hue[0], r.hue[1]), rng.range(r.sat[0], r.sat[1]), rng.range(r.light[0], r.light[1]));
}

/** Lightness (0..255) ranges of the backgrounds: mostly light, as in the report, sometimes gray or black. */
export const BACKGROUND_LEVELS: Readonly<Record<BackgroundColor, [number, number]>> = {
  white: [232, 253],
  gray: [112, 158],
  black: [6, 34],
};

export interface BackgroundPaint {
  color: BackgroundColor;
  /** Centre tone and the tone reached at the corners (a soft radial falloff, like an unevenly lit sheet). */
  centre: Rgb8;
  corner: Rgb8;
}

export function backgroundOf(rng: SecondRng): BackgroundPaint {
  const r = rng.float();
  const color: BackgroundColor = r < 0.72 ? 'white' : r < 0.9 ? 'gray' : 'black';
  const [lo, hi] = BACKGROUND_LEVELS[color];
  const level = rng.range(lo, hi);
  const falloff = rng.range(0, Math.min(14, level - lo));
  // A warm or cool cast of a few levels (paper, screen).
  const cast = rng.range(-5, 5);
  const tone = (l: number): Rgb8 => [clamp8(l + cast), clamp8(l), clamp8(l - cast)];
  return { color, centre: tone(level), corner: tone(level - falloff) };
}

function hslToRgb(hue: number, sat: number, light: number): Rgb8 {
  const h = (((hue % 360) + 360) % 360) / 60;
  const c = (1 - Math.abs(2 * light - 1)) * sat;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = light - c / 2;
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [clamp8((r + m) * 255), clamp8((g + m) * 255), clamp8((b + m) * 255)];
}

function clamp8(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}
