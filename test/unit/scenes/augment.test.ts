import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AUGMENTED_EXTENT_SCALE, AUGMENTED_RADIUS_RANGE } from '../../../tools/scenes/augment.ts';
import { EXTENT_FACTOR, MIN_MAJOR_OFFSET, positionOf, sizeOf } from '../../../tools/scenes/geometry.ts';
import { sampleSceneSpec } from '../../../tools/scenes/layout.ts';
import { createRng, sceneSeed } from '../../../tools/scenes/rng.ts';
import { generateScene } from '../../../tools/scenes/scene.ts';
import { BACKGROUND_LIGHTNESS, SHAPE_COLORS, SHAPE_RGB, type ShapeColor } from '../../../tools/scenes/vocabulary.ts';

const augmented = (count: number, seed = 9) => Array.from({ length: count }, (_, i) => sampleSceneSpec(createRng(sceneSeed(seed, i)), { augment: true }));
const dist = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
const nearestName = (rgb: readonly number[]): ShapeColor =>
  SHAPE_COLORS.reduce((best, name) => (dist(SHAPE_RGB[name], rgb) < dist(SHAPE_RGB[best], rgb) ? name : best));

describe('augmented training generator', () => {
  it('leaves the plain generator (the held-out set of npm run eval) untouched and is itself deterministic', () => {
    const plain = sampleSceneSpec(createRng(42));
    expect(sampleSceneSpec(createRng(42), { augment: false })).toEqual(plain);
    expect(plain.shapes.every((s) => s.geometry === undefined)).toBe(true);
    expect(sampleSceneSpec(createRng(42), { augment: true })).toEqual(sampleSceneSpec(createRng(42), { augment: true }));
  });

  it('varies the drawing while every word stays true: sizes, positions, shades and background names', () => {
    const specs = augmented(600);
    const shapes = specs.flatMap((s) => s.shapes.map((shape) => ({ shape, spec: s })));
    for (const { shape, spec } of shapes) {
      expect(shape.radius).toBeGreaterThanOrEqual(AUGMENTED_RADIUS_RANGE[shape.size][0]);
      expect(shape.radius).toBeLessThanOrEqual(AUGMENTED_RADIUS_RANGE[shape.size][1]);
      expect(sizeOf(shape.radius)).toBe(shape.size);
      expect(positionOf(shape.cx, shape.cy)).toBe(shape.position);
      expect(Math.max(Math.abs(shape.cx - 0.5), Math.abs(shape.cy - 0.5))).toBeGreaterThanOrEqual(MIN_MAJOR_OFFSET - 1e-9);
      expect(nearestName(shape.rgb)).toBe(shape.color);
      // Inside the canvas with the enlarged extent.
      const reach = EXTENT_FACTOR[shape.shape] * AUGMENTED_EXTENT_SCALE * shape.radius * Math.min(spec.render.width, spec.render.height);
      const x = shape.cx * spec.render.width;
      const y = shape.cy * spec.render.height;
      expect(Math.min(x - reach, y - reach, spec.render.width - x - reach, spec.render.height - y - reach)).toBeGreaterThanOrEqual(0);
    }
    for (const spec of specs) {
      const [lo, hi] = BACKGROUND_LIGHTNESS[spec.background.color];
      for (const tone of [spec.background.rgb, spec.background.rgb2]) for (const v of tone) expect(v >= lo && v <= hi).toBe(true);
    }
    const triangles = shapes.filter(({ shape }) => shape.shape === 'triangle').map(({ shape }) => shape);
    expect(triangles.some((t) => t.rotation > 90 && t.rotation < 270)).toBe(true);
    expect(new Set(triangles.map((t) => Math.round(t.geometry!.triangleHeight * 10))).size).toBeGreaterThan(3);
    expect(new Set(specs.map((s) => s.background.style))).toEqual(new Set(['plain', 'split', 'gradient']));
  });

  it('renders augmented scenes (gradient backgrounds, stretched and reshaped outlines) at the spec size', async () => {
    for (let i = 0; i < 12; i++) {
      const scene = await generateScene(sceneSeed(4, i), { augment: true });
      const meta = await sharp(scene.image).metadata();
      expect([meta.width, meta.height]).toEqual([scene.spec.render.width, scene.spec.render.height]);
      // The centre pixel of a large shape carries its colour name (JPEG and noise allowing).
      const { data, info } = await sharp(scene.image).raw().toBuffer({ resolveWithObject: true });
      for (const s of scene.spec.shapes.filter((x) => x.size === 'large')) {
        const o = (Math.floor(s.cy * info.height) * info.width + Math.floor(s.cx * info.width)) * info.channels;
        expect(nearestName([data[o]!, data[o + 1]!, data[o + 2]!])).toBe(s.color);
      }
    }
  });
});
