import type { ShapeKind } from '../scenes/vocabulary.ts';
import type { SecondRng } from './rng.ts';

/**
 * The second renderer's own shape geometry, in pixels. Proportions differ on purpose from tools/scenes: a slightly
 * smaller disc, a smaller square, taller isosceles triangles with an off-centre apex (sometimes pointing down), a
 * fatter star. A shape is an inside test plus the radius of a circle that holds it.
 */
export interface Outline {
  inside(x: number, y: number): boolean;
  /** Distance from the centre to the farthest point of the shape. */
  reach: number;
}

export interface OutlineParams {
  kind: ShapeKind;
  /** Centre in pixels. */
  cx: number;
  cy: number;
  /** Nominal radius in pixels. */
  r: number;
  /** Radians, clockwise on screen. */
  rotation: number;
  /** Triangle height / (nominal radius) and apex offset / base; ignored by other kinds. */
  triangleHeight: number;
  triangleApex: number;
}

const DISC_RADIUS = 0.96;
const SQUARE_HALF_SIDE = 0.74;
const TRIANGLE_BASE = 1.8;
const STAR_OUTER = 1.06;
const STAR_INNER = 0.5;

/** Draws the per-shape proportions and orientation for a kind. */
export function sampleOutlineParams(rng: SecondRng, kind: ShapeKind): Pick<OutlineParams, 'rotation' | 'triangleHeight' | 'triangleApex'> {
  const degrees = (d: number): number => (d * Math.PI) / 180;
  switch (kind) {
    case 'circle':
      return { rotation: 0, triangleHeight: 0, triangleApex: 0 };
    case 'square':
      return { rotation: degrees(rng.range(-12, 12)), triangleHeight: 0, triangleApex: 0 };
    case 'star':
      return { rotation: degrees(rng.range(0, 72)), triangleHeight: 0, triangleApex: 0 };
    case 'triangle': {
      const down = rng.float() < 0.25;
      return { rotation: degrees((down ? 180 : 0) + rng.range(-8, 8)), triangleHeight: rng.range(1.45, 1.75), triangleApex: rng.range(-0.12, 0.12) };
    }
  }
}

export function outlineOf(p: OutlineParams): Outline {
  const cos = Math.cos(p.rotation);
  const sin = Math.sin(p.rotation);
  // Point in the shape's own frame (undo the rotation about the centre).
  const local = (x: number, y: number): [number, number] => {
    const dx = x - p.cx;
    const dy = y - p.cy;
    return [cos * dx + sin * dy, -sin * dx + cos * dy];
  };
  switch (p.kind) {
    case 'circle': {
      const radius = DISC_RADIUS * p.r;
      return { inside: (x, y) => (x - p.cx) ** 2 + (y - p.cy) ** 2 <= radius * radius, reach: radius };
    }
    case 'square': {
      const s = SQUARE_HALF_SIDE * p.r;
      return {
        inside: (x, y) => {
          const [u, v] = local(x, y);
          return Math.abs(u) <= s && Math.abs(v) <= s;
        },
        reach: s * Math.SQRT2,
      };
    }
    case 'triangle': {
      const half = (TRIANGLE_BASE * p.r) / 2;
      const h = p.triangleHeight * p.r;
      // Bounding-box centred: apex at the top, base at the bottom.
      const vertices: Array<[number, number]> = [[p.triangleApex * 2 * half, -h / 2], [half, h / 2], [-half, h / 2]];
      return polygonOutline(vertices, local);
    }
    case 'star': {
      const vertices = Array.from({ length: 10 }, (_, k): [number, number] => {
        const angle = -Math.PI / 2 + (Math.PI * k) / 5;
        const radius = (k % 2 === 0 ? STAR_OUTER : STAR_OUTER * STAR_INNER) * p.r;
        return [radius * Math.cos(angle), radius * Math.sin(angle)];
      });
      return polygonOutline(vertices, local);
    }
  }
}

/** Even–odd crossing test in the shape's frame. */
function polygonOutline(vertices: Array<[number, number]>, local: (x: number, y: number) => [number, number]): Outline {
  const reach = Math.max(...vertices.map(([x, y]) => Math.hypot(x, y)));
  return {
    reach,
    inside: (x, y) => {
      const [u, v] = local(x, y);
      let inside = false;
      for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
        const [xi, yi] = vertices[i]!;
        const [xj, yj] = vertices[j]!;
        if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
      }
      return inside;
    },
  };
}
