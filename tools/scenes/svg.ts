import { EXTENT_FACTOR } from './geometry.ts';
import type { BackgroundSpec, Rgb, SceneSpec, ShapeSpec } from './spec.ts';

/** Square half-side per unit radius: its corners then reach EXTENT_FACTOR.square (0.8 * sqrt 2 = 1.13). */
const SQUARE_HALF_SIDE = 0.8;
const STAR_INNER_RATIO = 0.45;

/** The scene as an SVG document; librsvg (through sharp) rasterises it. */
export function sceneToSvg(spec: SceneSpec): string {
  const { width, height, antialias } = spec.render;
  const rendering = antialias ? 'geometricPrecision' : 'crispEdges';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" shape-rendering="${rendering}">`,
    backgroundSvg(spec.background, width, height),
    ...spec.shapes.map((shape) => shapeSvg(shape, width, height)),
    '</svg>',
  ];
  return parts.join('\n');
}

function fill(rgb: Rgb): string {
  return `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
}

function num(v: number): string {
  return v.toFixed(3);
}

function backgroundSvg(bg: BackgroundSpec, w: number, h: number): string {
  const base = `<rect x="0" y="0" width="${w}" height="${h}" fill="${fill(bg.rgb)}"/>`;
  if (bg.style === 'plain') return base;
  const a = bg.splitAt;
  let points: Array<[number, number]>;
  switch (bg.split) {
    case 'vertical':
      points = [[a * w, 0], [w, 0], [w, h], [a * w, h]];
      break;
    case 'horizontal':
      points = [[0, a * h], [w, a * h], [w, h], [0, h]];
      break;
    case 'diagonal':
      points = [[a * w, 0], [w, 0], [w, h], [(1 - a) * w, h]];
      break;
  }
  return `${base}\n<polygon points="${polygon(points)}" fill="${fill(bg.rgb2)}"/>`;
}

function polygon(points: ReadonlyArray<readonly [number, number]>): string {
  return points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ');
}

function shapeSvg(shape: ShapeSpec, w: number, h: number): string {
  const cx = shape.cx * w;
  const cy = shape.cy * h;
  const r = shape.radius * Math.min(w, h);
  const color = fill(shape.rgb);
  const transform = `rotate(${num(shape.rotation)} ${num(cx)} ${num(cy)})`;
  switch (shape.shape) {
    case 'circle':
      return `<circle cx="${num(cx)}" cy="${num(cy)}" r="${num(r)}" fill="${color}"/>`;
    case 'square': {
      const s = SQUARE_HALF_SIDE * r;
      return `<rect x="${num(cx - s)}" y="${num(cy - s)}" width="${num(2 * s)}" height="${num(2 * s)}" fill="${color}" transform="${transform}"/>`;
    }
    case 'triangle':
      return `<polygon points="${polygon(regularPoints(cx, cy, EXTENT_FACTOR.triangle * r, 3))}" fill="${color}" transform="${transform}"/>`;
    case 'star':
      return `<polygon points="${polygon(starPoints(cx, cy, EXTENT_FACTOR.star * r))}" fill="${color}" transform="${transform}"/>`;
  }
}

/** Vertices of a regular polygon with one vertex pointing up. */
function regularPoints(cx: number, cy: number, r: number, n: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, k): [number, number] => {
    const angle = -Math.PI / 2 + (2 * Math.PI * k) / n;
    return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
  });
}

function starPoints(cx: number, cy: number, r: number): Array<[number, number]> {
  return Array.from({ length: 10 }, (_, k): [number, number] => {
    const angle = -Math.PI / 2 + (Math.PI * k) / 5;
    const radius = k % 2 === 0 ? r : r * STAR_INNER_RATIO;
    return [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)];
  });
}
