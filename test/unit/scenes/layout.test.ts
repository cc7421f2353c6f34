import { describe, expect, it } from 'vitest';
import { createRng, sceneSeed } from '../../../tools/scenes/rng.ts';
import { completeSceneSpec, sampleSceneSpec } from '../../../tools/scenes/layout.ts';
import { EXTENT_FACTOR, MIN_MAJOR_OFFSET, RADIUS_RANGE, positionOf, sizeOf } from '../../../tools/scenes/geometry.ts';
import type { SceneSpec } from '../../../tools/scenes/spec.ts';

function specs(count: number): SceneSpec[] {
  return Array.from({ length: count }, (_, i) => sampleSceneSpec(createRng(sceneSeed(7, i))));
}

describe('sampleSceneSpec', () => {
  it('is a pure function of the seed', () => {
    expect(sampleSceneSpec(createRng(42))).toEqual(sampleSceneSpec(createRng(42)));
    expect(sampleSceneSpec(createRng(42))).not.toEqual(sampleSceneSpec(createRng(43)));
  });

  it('draws 1-3 shapes of distinct kinds, colours and positions, none in the background colour', () => {
    const counts = new Set<number>();
    for (const spec of specs(500)) {
      const n = spec.shapes.length;
      counts.add(n);
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(3);
      expect(new Set(spec.shapes.map((s) => s.shape)).size).toBe(n);
      expect(new Set(spec.shapes.map((s) => s.color)).size).toBe(n);
      expect(new Set(spec.shapes.map((s) => s.position)).size).toBe(n);
      for (const s of spec.shapes) expect(s.color).not.toBe(spec.background.color);
    }
    expect([...counts].sort()).toEqual([1, 2, 3]);
  });

  it('keeps every shape clearly inside its region, inside the canvas and apart from the others', () => {
    for (const spec of specs(500)) {
      const { width: w, height: h } = spec.render;
      const m = Math.min(w, h);
      for (const s of spec.shapes) {
        const dx = s.cx - 0.5;
        const dy = s.cy - 0.5;
        const major = Math.max(Math.abs(dx), Math.abs(dy));
        const minor = Math.min(Math.abs(dx), Math.abs(dy));
        expect(positionOf(s.cx, s.cy)).toBe(s.position);
        expect(major).toBeGreaterThanOrEqual(MIN_MAJOR_OFFSET - 1e-9);
        expect(minor).toBeLessThanOrEqual(0.5 * major + 1e-9);
        expect(sizeOf(s.radius)).toBe(s.size);
        expect(s.radius).toBeGreaterThanOrEqual(RADIUS_RANGE[s.size][0]);
        expect(s.radius).toBeLessThanOrEqual(RADIUS_RANGE[s.size][1]);
        const extent = EXTENT_FACTOR[s.shape] * s.radius * m;
        expect(s.cx * w - extent).toBeGreaterThan(0);
        expect(s.cx * w + extent).toBeLessThan(w);
        expect(s.cy * h - extent).toBeGreaterThan(0);
        expect(s.cy * h + extent).toBeLessThan(h);
      }
      for (let i = 0; i < spec.shapes.length; i += 1) {
        for (let j = i + 1; j < spec.shapes.length; j += 1) {
          const a = spec.shapes[i]!;
          const b = spec.shapes[j]!;
          const dist = Math.hypot((a.cx - b.cx) * w, (a.cy - b.cy) * h);
          expect(dist).toBeGreaterThan((EXTENT_FACTOR[a.shape] * a.radius + EXTENT_FACTOR[b.shape] * b.radius) * m);
        }
      }
    }
  });
});

describe('positionOf', () => {
  it('uses the larger offset from the centre', () => {
    expect(positionOf(0.2, 0.45)).toBe('left');
    expect(positionOf(0.8, 0.6)).toBe('right');
    expect(positionOf(0.55, 0.2)).toBe('top');
    expect(positionOf(0.45, 0.9)).toBe('bottom');
  });
});

describe('completeSceneSpec', () => {
  it('fills a bare request with clean defaults', () => {
    const spec = completeSceneSpec({ shapes: [{ shape: 'circle', color: 'red' }] });
    expect(spec.background).toMatchObject({ color: 'white', style: 'plain', rgb: [255, 255, 255] });
    expect(spec.render).toMatchObject({ width: 128, height: 128, antialias: true, noise: 0, format: 'png' });
    expect(spec.shapes).toHaveLength(1);
    expect(spec.shapes[0]).toMatchObject({ shape: 'circle', color: 'red', size: 'large', position: 'left', rgb: [220, 30, 30] });
  });

  it('honours explicit positions and sizes and gives unnamed shapes the free regions', () => {
    const spec = completeSceneSpec({
      shapes: [
        { shape: 'square', color: 'blue', position: 'left' },
        { shape: 'star', color: 'yellow', size: 'small' },
      ],
    });
    expect(spec.shapes.map((s) => [s.position, s.size])).toEqual([
      ['left', 'large'],
      ['right', 'small'],
    ]);
    for (const s of spec.shapes) expect(positionOf(s.cx, s.cy)).toBe(s.position);
  });
});
