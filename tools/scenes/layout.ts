import { EXTENT_FACTOR, MIN_MAJOR_OFFSET, MINOR_TO_MAJOR_MAX, RADIUS_RANGE, directionOf, positionOf, sizeOf } from './geometry.ts';
import {
  AUGMENTED_EXTENT_SCALE,
  AUGMENTED_RADIUS_RANGE,
  augmentedGeometry,
  augmentedRotation,
  augmentedShade,
  sampleAugmentedBackground,
  sampleAugmentedRender,
} from './augment.ts';
import { chance, pick, randomInt, sample, uniform, type Rng } from './rng.ts';
import type { BackgroundSpec, Rgb, RenderSpec, SceneRequest, SceneSpec, ShapeSpec, SplitDirection } from './spec.ts';
import {
  BACKGROUND_LIGHTNESS,
  BACKGROUND_NOMINAL,
  POSITIONS,
  SHAPE_COLORS,
  SHAPE_KINDS,
  SHAPE_RGB,
  SIZES,
  type BackgroundColor,
  type Position,
  type ShapeKind,
} from './vocabulary.ts';

/** Pixels kept free between two shapes and between a shape and the border. */
const GAP_PX = 2;
const MAX_LAYOUT_ATTEMPTS = 200;
/** Per-channel jitter of shape colours, small enough that neighbouring names (red/orange/yellow) never meet. */
const COLOR_JITTER = 12;
/** Major offset used when a caller names a position without giving coordinates. */
const DEFAULT_MAJOR_OFFSET = 0.28;

interface Placement {
  cx: number;
  cy: number;
}

export interface SampleOptions {
  /** Draw with the augmented generator's variety (augment.ts): training data only. */
  augment?: boolean;
}

/** A random scene: 1-3 shapes of distinct kinds and colours, each in its own region, plus random rendering options. */
export function sampleSceneSpec(rng: Rng, options: SampleOptions = {}): SceneSpec {
  const augment = options.augment === true;
  const render = augment ? sampleAugmentedRender(rng) : sampleRender(rng);
  const background = augment ? sampleAugmentedBackground(rng) : sampleBackground(rng);
  const count = randomInt(rng, 1, 3);
  const kinds = sample(rng, SHAPE_KINDS, count);
  const colors = sample(
    rng,
    SHAPE_COLORS.filter((c) => c !== background.color),
    count,
  );
  const positions = sample(rng, POSITIONS, count);
  const sizes = kinds.map(() => pick(rng, SIZES));
  const ranges = augment ? AUGMENTED_RADIUS_RANGE : RADIUS_RANGE;
  const radii = sizes.map((size) => uniform(rng, ranges[size][0], ranges[size][1]));
  let placements: Placement[];
  if (augment) {
    // Two of the largest shapes in neighbouring regions may not fit: move the radii halfway to their range's lower end.
    for (let tries = 0; ; tries += 1) {
      try {
        placements = placeShapes(rng, render, kinds, radii, positions, AUGMENTED_EXTENT_SCALE);
        break;
      } catch (error) {
        if (tries >= 8) throw error;
        sizes.forEach((size, i) => (radii[i] = (radii[i]! + AUGMENTED_RADIUS_RANGE[size][0]) / 2));
      }
    }
  } else {
    placements = placeShapes(rng, render, kinds, radii, positions, 1);
  }
  const shapes: ShapeSpec[] = kinds.map((shape, i) => {
    const color = colors[i]!;
    const placed = { shape, color, size: sizes[i]!, position: positions[i]!, cx: placements[i]!.cx, cy: placements[i]!.cy, radius: radii[i]! };
    // The random draws keep their order in each branch (rotation, then colour, then geometry), so seeds reproduce.
    if (augment) {
      const rotation = augmentedRotation(rng, shape);
      const rgb = augmentedShade(rng, color);
      return { ...placed, rotation, rgb, geometry: augmentedGeometry(rng, shape) };
    }
    const rotation = sampleRotation(rng, shape);
    return { ...placed, rotation, rgb: jitter(rng, SHAPE_RGB[color], COLOR_JITTER) };
  });
  return { background, shapes, render };
}

/** Fills every field a caller left out with a clean default: white plain background, large shapes, PNG, no noise. */
export function completeSceneSpec(request: SceneRequest): SceneSpec {
  const render: RenderSpec = {
    width: 128,
    height: 128,
    antialias: true,
    noise: 0,
    noiseSeed: 0,
    format: 'png',
    quality: 90,
    ...request.render,
  };
  const background = completeBackground(request.background);
  const used = new Set<Position>(request.shapes.flatMap((s) => (s.position === undefined ? [] : [s.position])));
  const shapes = request.shapes.map((req): ShapeSpec => {
    const size = req.size ?? (req.radius === undefined ? 'large' : sizeOf(req.radius));
    const radius = req.radius ?? (RADIUS_RANGE[size][0] + RADIUS_RANGE[size][1]) / 2;
    let position = req.position;
    if (position === undefined && req.cx !== undefined && req.cy !== undefined) position = positionOf(req.cx, req.cy);
    if (position === undefined) {
      position = POSITIONS.find((p) => !used.has(p)) ?? 'left';
      used.add(position);
    }
    const centre =
      req.cx !== undefined && req.cy !== undefined
        ? { cx: req.cx, cy: req.cy }
        : placeAt(render, req.shape, radius, position, DEFAULT_MAJOR_OFFSET, 0);
    return {
      shape: req.shape,
      color: req.color,
      size,
      position,
      cx: centre.cx,
      cy: centre.cy,
      radius,
      rotation: req.rotation ?? 0,
      rgb: req.rgb ?? SHAPE_RGB[req.color],
    };
  });
  return { background, shapes, render };
}

function completeBackground(request: SceneRequest['background']): BackgroundSpec {
  const partial: Partial<BackgroundSpec> = typeof request === 'string' ? { color: request } : (request ?? {});
  const color = partial.color ?? 'white';
  const level = BACKGROUND_NOMINAL[color];
  const rgb = partial.rgb ?? ([level, level, level] as const);
  return {
    color,
    style: partial.style ?? 'plain',
    rgb,
    rgb2: partial.rgb2 ?? rgb,
    split: partial.split ?? 'vertical',
    splitAt: partial.splitAt ?? 0.5,
  };
}

function sampleRender(rng: Rng): RenderSpec {
  const width = randomInt(rng, 112, 176);
  let height = randomInt(rng, 112, 176);
  // Keep the aspect ratio mild: the processor stretches to a square, and strong stretching would change the shapes.
  while (height / width > 1.25 || width / height > 1.25) height = randomInt(rng, 112, 176);
  const isPng = chance(rng, 0.35);
  return {
    width,
    height,
    antialias: chance(rng, 0.75),
    noise: chance(rng, 0.5) ? 0 : uniform(rng, 2, 8),
    noiseSeed: randomInt(rng, 0, 0x7fffffff),
    format: isPng ? 'png' : 'jpeg',
    quality: randomInt(rng, 55, 95),
  };
}

function sampleBackground(rng: Rng): BackgroundSpec {
  const r = rng.next();
  const color: BackgroundColor = r < 0.45 ? 'white' : r < 0.75 ? 'gray' : 'black';
  const [lo, hi] = BACKGROUND_LIGHTNESS[color];
  const level = uniform(rng, lo, hi);
  const rgb = jitter(rng, [level, level, level], 5, lo, hi);
  const isSplit = chance(rng, 0.4);
  let rgb2: Rgb = rgb;
  if (isSplit) {
    const delta = uniform(rng, 14, 30);
    const level2 = level + delta <= hi ? level + delta : level - delta;
    rgb2 = jitter(rng, [level2, level2, level2], 5, lo, hi);
  }
  return {
    color,
    style: isSplit ? 'split' : 'plain',
    rgb,
    rgb2,
    split: pick<SplitDirection>(rng, ['vertical', 'horizontal', 'diagonal']),
    splitAt: uniform(rng, 0.3, 0.7),
  };
}

function sampleRotation(rng: Rng, shape: ShapeKind): number {
  switch (shape) {
    case 'circle':
      return 0;
    case 'star':
      return uniform(rng, 0, 72);
    case 'square':
    case 'triangle':
      return uniform(rng, -15, 15);
  }
}

/** Random centres inside each shape's region, re-drawn until no two shapes touch. */
function placeShapes(
  rng: Rng,
  render: RenderSpec,
  kinds: readonly ShapeKind[],
  radii: readonly number[],
  positions: readonly Position[],
  extentScale: number,
): Placement[] {
  for (let attempt = 0; attempt < MAX_LAYOUT_ATTEMPTS; attempt += 1) {
    // After many failures fall back to the outermost, centred spots, which always leave room.
    const outermost = attempt === MAX_LAYOUT_ATTEMPTS - 1;
    const placements = kinds.map((kind, i) => {
      const position = positions[i]!;
      const reach = radii[i]! * extentScale;
      const { major, minor } = offsetLimits(render, kind, reach, position);
      const d = outermost ? major : uniform(rng, MIN_MAJOR_OFFSET, major);
      const eLimit = Math.min(minor, MINOR_TO_MAJOR_MAX * d);
      const e = outermost ? 0 : uniform(rng, -eLimit, eLimit);
      return placeAt(render, kind, reach, position, d, e);
    });
    if (!overlaps(render, kinds, radii.map((r) => r * extentScale), placements)) return placements;
  }
  throw new Error(`Could not place ${kinds.join(', ')} at ${positions.join(', ')} without overlap`);
}

/** Largest major offset and largest |minor| offset (fractions) that keep a shape inside the canvas. */
function offsetLimits(render: RenderSpec, kind: ShapeKind, radius: number, position: Position): { major: number; minor: number } {
  const extent = EXTENT_FACTOR[kind] * radius * Math.min(render.width, render.height) + GAP_PX;
  const horizontal = position === 'left' || position === 'right';
  const along = horizontal ? render.width : render.height;
  const across = horizontal ? render.height : render.width;
  const major = 0.5 - extent / along;
  if (major < MIN_MAJOR_OFFSET) throw new RangeError(`Expected a canvas large enough for a ${kind} but received ${render.width}x${render.height}`);
  return { major, minor: Math.max(0, 0.5 - extent / across) };
}

function placeAt(render: RenderSpec, kind: ShapeKind, radius: number, position: Position, major: number, minor: number): Placement {
  const limit = offsetLimits(render, kind, radius, position).major;
  const d = Math.min(major, limit);
  const dir = directionOf(position);
  return { cx: 0.5 + dir.x * d + (dir.x === 0 ? minor : 0), cy: 0.5 + dir.y * d + (dir.y === 0 ? minor : 0) };
}

function overlaps(render: RenderSpec, kinds: readonly ShapeKind[], radii: readonly number[], placements: readonly Placement[]): boolean {
  const m = Math.min(render.width, render.height);
  for (let i = 0; i < kinds.length; i += 1) {
    for (let j = i + 1; j < kinds.length; j += 1) {
      const a = placements[i]!;
      const b = placements[j]!;
      const dist = Math.hypot((a.cx - b.cx) * render.width, (a.cy - b.cy) * render.height);
      const need = (EXTENT_FACTOR[kinds[i]!] * radii[i]! + EXTENT_FACTOR[kinds[j]!] * radii[j]!) * m + GAP_PX;
      if (dist < need) return true;
    }
  }
  return false;
}

function jitter(rng: Rng, rgb: Rgb, amount: number, lo = 0, hi = 255): Rgb {
  const one = (v: number): number => Math.round(Math.min(hi, Math.max(lo, v + uniform(rng, -amount, amount))));
  return [one(rgb[0]), one(rgb[1]), one(rgb[2])];
}
