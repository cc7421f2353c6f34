import { positionOf, sizeOf } from '../scenes/geometry.ts';
import { POSITIONS, SHAPE_COLORS, SHAPE_KINDS, type Position, type ShapeColor, type ShapeKind, type ShapeSize } from '../scenes/vocabulary.ts';
import { outlineOf, sampleOutlineParams, type OutlineParams } from './outline.ts';
import { backgroundOf, shadeOf, type BackgroundPaint, type Rgb8 } from './palette.ts';
import type { SecondRng } from './rng.ts';

/** Nominal radius per size word, as a fraction of min(width, height): the same words, its own ranges. */
export const SECOND_RADIUS: Readonly<Record<ShapeSize, [number, number]>> = {
  small: [0.075, 0.1],
  large: [0.145, 0.18],
};
/** Shapes stay this far (fraction) from the centre along their region's axis, and the other axis stays within 45 % of it. */
const MIN_MAJOR = 0.22;
const MINOR_SHARE = 0.45;
const GAP_PX = 3;

export interface PlacedShape extends OutlineParams {
  color: ShapeColor;
  size: ShapeSize;
  position: Position;
  rgb: Rgb8;
}

export interface SecondLayout {
  width: number;
  height: number;
  background: BackgroundPaint;
  shapes: PlacedShape[];
  /** Noise sigma in 8-bit levels (0 = none). */
  noise: number;
  format: 'png' | 'jpeg';
  quality: number;
}

/** 1-3 shapes of distinct kinds, colours and regions; re-drawn whole until every shape fits without touching another. */
export function sampleLayout(rng: SecondRng): SecondLayout {
  for (;;) {
    const layout = tryLayout(rng);
    if (layout !== undefined) return layout;
  }
}

function tryLayout(rng: SecondRng): SecondLayout | undefined {
  const width = rng.int(120, 200);
  const height = Math.round(width * rng.range(0.84, 1.2));
  const background = backgroundOf(rng);
  const count = rng.pick([1, 1, 2, 2, 2, 3, 3]);
  const kinds = shuffled(rng, SHAPE_KINDS).slice(0, count);
  const colors = shuffled(rng, SHAPE_COLORS.filter((c) => c !== background.color)).slice(0, count);
  const positions = shuffled(rng, POSITIONS).slice(0, count);
  const m = Math.min(width, height);
  const shapes: PlacedShape[] = [];
  for (let i = 0; i < count; i++) {
    const kind: ShapeKind = kinds[i]!;
    const size: ShapeSize = rng.float() < 0.5 ? 'small' : 'large';
    const r = rng.range(...SECOND_RADIUS[size]) * m;
    const params = { kind, r, ...sampleOutlineParams(rng, kind) };
    const reach = outlineOf({ ...params, cx: 0, cy: 0 }).reach + GAP_PX;
    const position = positions[i]!;
    let placed: PlacedShape | undefined;
    for (let attempt = 0; attempt < 60 && placed === undefined; attempt++) {
      const centre = centreIn(rng, position, reach, width, height);
      if (centre === undefined) return undefined;
      const clear = shapes.every((s) => Math.hypot(s.cx - centre.cx, s.cy - centre.cy) >= reach + outlineOf(s).reach + GAP_PX);
      if (!clear) continue;
      // The words come from the centre and radius by the scene language's own rules.
      if (positionOf(centre.cx / width, centre.cy / height) !== position || sizeOf(r / m) !== size) return undefined;
      placed = { ...params, ...centre, color: colors[i]!, size, position, rgb: shadeOf(rng, colors[i]!) };
    }
    if (placed === undefined) return undefined;
    shapes.push(placed);
  }
  const noisy = rng.float() < 0.75;
  const png = rng.float() < 0.7;
  return { width, height, background, shapes, noise: noisy ? rng.range(1, 4.5) : 0, format: png ? 'png' : 'jpeg', quality: rng.int(82, 95) };
}

/** A centre (pixels) in the region of `position`, with the whole shape inside the canvas; undefined if it cannot fit. */
function centreIn(rng: SecondRng, position: Position, reach: number, width: number, height: number): { cx: number; cy: number } | undefined {
  const horizontal = position === 'left' || position === 'right';
  const along = horizontal ? width : height;
  const across = horizontal ? height : width;
  const maxMajor = 0.5 - reach / along;
  if (maxMajor < MIN_MAJOR) return undefined;
  const major = rng.range(MIN_MAJOR, maxMajor);
  const minorLimit = Math.min(MINOR_SHARE * major * along, across / 2 - reach);
  if (minorLimit < 0) return undefined;
  const minor = rng.range(-minorLimit, minorLimit);
  const sign = position === 'left' || position === 'top' ? -1 : 1;
  const a = along / 2 + sign * major * along;
  const b = across / 2 + minor;
  return horizontal ? { cx: a, cy: b } : { cx: b, cy: a };
}

function shuffled<T>(rng: SecondRng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
