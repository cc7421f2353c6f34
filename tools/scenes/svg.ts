import { EXTENT_FACTOR } from './geometry.ts';
import type { BackgroundSpec, Rgb, SceneSpec, ShapeGeometry, ShapeSpec } from './spec.ts';

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
  if (bg.style === 'gradient') {
    const end = { vertical: [1, 0], horizontal: [0, 1], diagonal: [1, 1] }[bg.split];
    return [
      `<defs><linearGradient id="bg" x1="0" y1="0" x2="${end[0]}" y2="${end[1]}">`,
      `<stop offset="0" stop-color="${fill(bg.rgb)}"/><stop offset="1" stop-color="${fill(bg.rgb2)}"/></linearGradient></defs>`,
      `<rect x="0" y="0" width="${w}" height="${h}" fill="url(#bg)"/>`,
    ].join('\n');
  }
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
  const g = shape.geometry;
  // Stretch about the centre (area kept), then rotate: SVG applies the rightmost transform first.
  const stretch = g === undefined || g.stretch === 1 ? '' : ` translate(${num(cx)} ${num(cy)}) scale(${num(Math.sqrt(g.stretch))} ${num(1 / Math.sqrt(g.stretch))}) translate(${num(-cx)} ${num(-cy)})`;
  const transform = `rotate(${num(shape.rotation)} ${num(cx)} ${num(cy)})${stretch}`;
  switch (shape.shape) {
    case 'circle':
      return `<circle cx="${num(cx)}" cy="${num(cy)}" r="${num(r)}" fill="${color}"${stretch ? ` transform="${transform}"` : ''}/>`;
    case 'square': {
      const s = (g?.squareHalfSide ?? SQUARE_HALF_SIDE) * r;
      return `<rect x="${num(cx - s)}" y="${num(cy - s)}" width="${num(2 * s)}" height="${num(2 * s)}" fill="${color}" transform="${transform}"/>`;
    }
    case 'triangle': {
      const points = g === undefined ? regularPoints(cx, cy, EXTENT_FACTOR.triangle * r, 3) : trianglePoints(cx, cy, EXTENT_FACTOR.triangle * r, g);
      return `<polygon points="${polygon(points)}" fill="${color}" transform="${transform}"/>`;
    }
    case 'star':
      return `<polygon points="${polygon(starPoints(cx, cy, EXTENT_FACTOR.star * r, g?.starInner ?? STAR_INNER_RATIO))}" fill="${color}" transform="${transform}"/>`;
  }
}

/** Vertices of a regular polygon with one vertex pointing up. */
function regularPoints(cx: number, cy: number, r: number, n: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, k): [number, number] => {
    const angle = -Math.PI / 2 + (2 * Math.PI * k) / n;
    return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
  });
}

/**
 * Apex up, base down, with the given height / base and apex offset; centred on its centroid and scaled so that its
 * farthest vertex is `reach` away (the same extent as the default equilateral triangle).
 */
function trianglePoints(cx: number, cy: number, reach: number, g: ShapeGeometry): Array<[number, number]> {
  const raw: Array<[number, number]> = [[g.triangleApex, -2 * g.triangleHeight], [-1, 0], [1, 0]];
  const mx = (raw[0]![0] + raw[1]![0] + raw[2]![0]) / 3;
  const my = (raw[0]![1] + raw[1]![1] + raw[2]![1]) / 3;
  const far = Math.max(...raw.map(([x, y]) => Math.hypot(x - mx, y - my)));
  return raw.map(([x, y]): [number, number] => [cx + ((x - mx) / far) * reach, cy + ((y - my) / far) * reach]);
}

function starPoints(cx: number, cy: number, r: number, inner: number): Array<[number, number]> {
  return Array.from({ length: 10 }, (_, k): [number, number] => {
    const angle = -Math.PI / 2 + (Math.PI * k) / 5;
    const radius = k % 2 === 0 ? r : r * inner;
    return [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)];
  });
}
