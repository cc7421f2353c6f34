import { chance, pick, randomInt, uniform, type Rng } from './rng.ts';
import type { BackgroundSpec, Rgb, RenderSpec, ShapeGeometry, SplitDirection } from './spec.ts';
import { BACKGROUND_LIGHTNESS, SHAPE_RGB, type BackgroundColor, type ShapeColor, type ShapeKind, type ShapeSize } from './vocabulary.ts';

/**
 * The "augmented" variant of the training generator (`--augment P` in cli.ts): the same scene language, drawn with
 * much more variety, so that the demo model learns what a person calls a triangle or a red shape rather than the exact
 * pixels of one drawing style. Only the training data uses it; `generateScene(seed)` (the held-out set of
 * `npm run eval`) is unchanged. Photometric variety (blur, noise, JPEG) is added on the fly in
 * tools/demo-model/augment.py.
 */

/** Wider radius ranges than RADIUS_RANGE, still well apart around sizeOf's 0.12 threshold. */
export const AUGMENTED_RADIUS_RANGE: Readonly<Record<ShapeSize, readonly [number, number]>> = {
  small: [0.07, 0.105],
  large: [0.135, 0.19],
};

/** Placement margin: stretched, sheared and taller shapes reach further than EXTENT_FACTOR alone says. */
export const AUGMENTED_EXTENT_SCALE = 1.22;

export function sampleAugmentedRender(rng: Rng): RenderSpec {
  const width = randomInt(rng, 104, 224);
  let height = randomInt(rng, 104, 224);
  // The processor stretches every picture to a square: up to 1.4:1 this changes the drawn proportions noticeably.
  while (height / width > 1.4 || width / height > 1.4) height = randomInt(rng, 104, 224);
  return {
    width,
    height,
    antialias: chance(rng, 0.7),
    noise: chance(rng, 0.4) ? 0 : uniform(rng, 1, 12),
    noiseSeed: randomInt(rng, 0, 0x7fffffff),
    format: chance(rng, 0.4) ? 'png' : 'jpeg',
    quality: randomInt(rng, 35, 95),
  };
}

/** Backgrounds inside their name's lightness range, with a slight colour tint and plain, split or gradient fills. */
export function sampleAugmentedBackground(rng: Rng): BackgroundSpec {
  const r = rng.next();
  const color: BackgroundColor = r < 0.5 ? 'white' : r < 0.78 ? 'gray' : 'black';
  const [lo, hi] = BACKGROUND_LIGHTNESS[color];
  const tint: Rgb = [uniform(rng, -8, 8), uniform(rng, -8, 8), uniform(rng, -8, 8)];
  const tone = (level: number): Rgb => tint.map((t) => Math.round(clamp(level + t, lo, hi))) as unknown as Rgb;
  const level = uniform(rng, lo, hi);
  const delta = uniform(rng, 8, Math.min(36, hi - lo));
  const level2 = level + delta <= hi ? level + delta : Math.max(lo, level - delta);
  const s = rng.next();
  return {
    color,
    style: s < 0.45 ? 'plain' : s < 0.7 ? 'split' : 'gradient',
    rgb: tone(level),
    rgb2: s < 0.45 ? tone(level) : tone(level2),
    split: pick<SplitDirection>(rng, ['vertical', 'horizontal', 'diagonal']),
    splitAt: uniform(rng, 0.2, 0.8),
  };
}

/**
 * A shade of a colour name: each channel moved up to 20 levels plus a shared lightness shift of up to 16. The nominal
 * colours are far enough apart that neighbouring names never meet: the green channel keeps red (<= 66), orange
 * (94-166) and yellow (>= 174) apart, the red channel blue (<= 66) and purple (>= 94).
 */
export function augmentedShade(rng: Rng, color: ShapeColor): Rgb {
  const base = SHAPE_RGB[color];
  const shift = color === 'white' ? uniform(rng, -18, 0) : color === 'black' ? uniform(rng, 0, 30) : uniform(rng, -16, 16);
  const spread = color === 'white' || color === 'black' ? 6 : 20;
  return base.map((v) => Math.round(clamp(v + shift + uniform(rng, -spread, spread), 0, 255))) as unknown as Rgb;
}

/** Rotation in degrees, clockwise: triangles in any orientation half of the time, squares up to ±40. */
export function augmentedRotation(rng: Rng, shape: ShapeKind): number {
  switch (shape) {
    case 'circle':
      return 0;
    case 'star':
      return uniform(rng, 0, 72);
    case 'square':
      return uniform(rng, -40, 40);
    case 'triangle':
      return chance(rng, 0.5) ? uniform(rng, 0, 360) : uniform(rng, -20, 20);
  }
}

/** Proportions other than the default drawing's: aspect, triangle height and apex, square side, star inner radius. */
export function augmentedGeometry(rng: Rng, shape: ShapeKind): ShapeGeometry {
  const stretchLimit = shape === 'circle' ? 0.1 : shape === 'square' ? 0.12 : 0.2;
  return {
    stretch: Math.exp(uniform(rng, -stretchLimit, stretchLimit)),
    squareHalfSide: uniform(rng, 0.68, 0.88),
    triangleHeight: uniform(rng, 0.65, 1.15),
    triangleApex: uniform(rng, -0.45, 0.45),
    starInner: uniform(rng, 0.36, 0.56),
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
