import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { positionOf, sizeOf } from '../../../tools/scenes/geometry.ts';
import { BACKGROUND_COLORS, SHAPE_COLORS, SHAPE_RGB, type ShapeColor } from '../../../tools/scenes/vocabulary.ts';
import {
  BACKGROUND_LEVELS,
  outlineOf,
  rasterize,
  sampleLayout,
  secondRng,
  secondScene,
  secondSceneSeed,
  SECOND_RADIUS,
  shadeOf,
  type PlacedShape,
} from '../../../tools/second-renderer/index.ts';

const nearestName = (rgb: readonly number[]): ShapeColor =>
  SHAPE_COLORS.reduce((best, name) => (dist(SHAPE_RGB[name], rgb) < dist(SHAPE_RGB[best], rgb) ? name : best));
const dist = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

/** Area in px² of the drawn outline, from its geometry (not from the rasterizer). */
function analyticArea(s: PlacedShape): number {
  switch (s.kind) {
    case 'circle':
      return Math.PI * (0.96 * s.r) ** 2;
    case 'square':
      return (2 * 0.74 * s.r) ** 2;
    case 'triangle':
      return 0.5 * 1.8 * s.r * s.triangleHeight * s.r;
    case 'star': {
      const outer = 1.06 * s.r;
      // Ten triangles centre-outer-inner, each with the 36° angle between an outer and an inner vertex.
      return 10 * 0.5 * outer * outer * 0.5 * Math.sin(Math.PI / 5);
    }
  }
}

describe('second renderer', () => {
  it('is a pure function of (set seed, index): same bytes, caption and questions; other indices differ', async () => {
    const a = await secondScene(424242, 5);
    const b = await secondScene(424242, 5);
    const c = await secondScene(424242, 6);
    expect(Buffer.compare(a.image, b.image)).toBe(0);
    expect(a.caption).toBe(b.caption);
    expect(a.questions).toEqual(b.questions);
    expect(Buffer.compare(a.image, c.image)).not.toBe(0);
  });

  it('encodes a picture of the layout size whose words follow the scene language', async () => {
    for (let i = 0; i < 40; i++) {
      const scene = await secondScene(99, i);
      const meta = await sharp(scene.image).metadata();
      expect([meta.width, meta.height, meta.format === 'jpeg' ? 'jpeg' : meta.format]).toEqual([scene.spec.render.width, scene.spec.render.height, scene.format]);
      const kinds = scene.spec.shapes.map((s) => s.shape);
      const colors = scene.spec.shapes.map((s) => s.color);
      expect(new Set(kinds).size).toBe(kinds.length);
      expect(new Set(colors).size).toBe(colors.length);
      expect(colors).not.toContain(scene.spec.background.color);
      for (const s of scene.spec.shapes) {
        expect(s.position).toBe(positionOf(s.cx, s.cy));
        expect(s.size).toBe(sizeOf(s.radius));
        expect(s.radius).toBeGreaterThanOrEqual(SECOND_RADIUS[s.size][0]);
        expect(s.radius).toBeLessThanOrEqual(SECOND_RADIUS[s.size][1]);
        expect(scene.caption).toContain(`${s.size} ${s.color} ${s.shape}`);
      }
      expect(scene.caption).toMatch(new RegExp(`on a ${scene.spec.background.color} background$`));
      expect(scene.questions.find((q) => q.type === 'count')?.answer).toBe(['zero', 'one', 'two', 'three'][kinds.length]);
    }
  });

  it('draws each shape where it is placed, with its area, and leaves the rest of the picture background', () => {
    for (let i = 0; i < 30; i++) {
      const layout = { ...sampleLayout(secondRng(secondSceneSeed(7, i))), noise: 0 };
      const pixels = rasterize(layout, 1);
      const empty = rasterize({ ...layout, shapes: [] }, 1);
      const { width, height } = layout;
      const at = (buf: Uint8Array, x: number, y: number): number[] => Array.from(buf.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
      for (const s of layout.shapes) {
        // The centre of every outline is inside it, far from any edge: the pure shape colour.
        expect(dist(at(pixels, Math.floor(s.cx), Math.floor(s.cy)), s.rgb)).toBeLessThanOrEqual(1.8);
        const reach = outlineOf(s).reach;
        let covered = 0;
        for (let y = Math.max(0, Math.floor(s.cy - reach - 2)); y < Math.min(height, s.cy + reach + 2); y++) {
          for (let x = Math.max(0, Math.floor(s.cx - reach - 2)); x < Math.min(width, s.cx + reach + 2); x++) {
            // Coverage from the blend: 0 on background, 1 on the pure colour (per pixel, along the channel that differs most).
            const bg = at(empty, x, y);
            const px = at(pixels, x, y);
            const c = [0, 1, 2].reduce((m, k) => (Math.abs(s.rgb[k]! - bg[k]!) > Math.abs(s.rgb[m]! - bg[m]!) ? k : m), 0);
            if (Math.abs(s.rgb[c]! - bg[c]!) > 8) covered += (px[c]! - bg[c]!) / (s.rgb[c]! - bg[c]!);
          }
        }
        expect(covered / analyticArea(s)).toBeGreaterThan(0.93);
        expect(covered / analyticArea(s)).toBeLessThan(1.07);
      }
      // Anything farther than its reach (plus a pixel of anti-aliasing) from every shape is untouched background.
      for (let y = 0; y < height; y += 3) {
        for (let x = 0; x < width; x += 3) {
          const outside = layout.shapes.every((s) => Math.hypot(x + 0.5 - s.cx, y + 0.5 - s.cy) > outlineOf(s).reach + 1.5);
          if (outside) expect(at(pixels, x, y)).toEqual(at(empty, x, y));
        }
      }
    }
  });

  it('keeps every shade nearest to its own colour name, and backgrounds inside their name\'s levels', () => {
    const rng = secondRng(3);
    for (const name of SHAPE_COLORS) {
      for (let k = 0; k < 400; k++) expect(nearestName(shadeOf(rng, name))).toBe(name);
    }
    for (let i = 0; i < 300; i++) {
      const bg = sampleLayout(secondRng(secondSceneSeed(11, i))).background;
      expect(BACKGROUND_COLORS).toContain(bg.color);
      const [lo, hi] = BACKGROUND_LEVELS[bg.color];
      for (const tone of [bg.centre, bg.corner]) {
        const grey = (tone[0] + tone[1] + tone[2]) / 3;
        expect(grey).toBeGreaterThanOrEqual(lo - 1);
        expect(grey).toBeLessThanOrEqual(hi + 1);
      }
    }
  });

  it('draws different pictures of the same words than the training generator: noise varies, sizes and kinds vary', () => {
    const layouts = Array.from({ length: 200 }, (_, i) => sampleLayout(secondRng(secondSceneSeed(5, i))));
    const shapes = layouts.flatMap((l) => l.shapes);
    expect(new Set(shapes.map((s) => s.kind)).size).toBe(4);
    expect(new Set(shapes.map((s) => s.color)).size).toBe(8);
    expect(shapes.some((s) => s.kind === 'triangle' && Math.abs(s.rotation) > 2)).toBe(true);
    expect(layouts.filter((l) => l.noise > 0).length).toBeGreaterThan(100);
    expect(layouts.filter((l) => l.background.color === 'white').length).toBeGreaterThan(100);
  });

  it('shares no drawing code with tools/scenes: it imports only the scene language from there', () => {
    const dir = fileURLToPath(new URL('../../../tools/second-renderer/', import.meta.url));
    const allowed = new Set(['../scenes/describe.ts', '../scenes/geometry.ts', '../scenes/vocabulary.ts', '../scenes/spec.ts', '../scenes/scene.ts']);
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const [, from] of source.matchAll(/from '([^']+)'/g)) {
        if (from!.startsWith('../scenes/')) expect(allowed, `${file} imports ${from}`).toContain(from);
      }
      expect(source).not.toMatch(/<svg|svg\.ts|librsvg/);
    }
  });
});
