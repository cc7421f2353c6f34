import type { Position, ShapeKind, ShapeSize } from './vocabulary.ts';

/**
 * Geometry rules shared by random layouts, explicit requests and the tests, so that the position word of a shape is a
 * function of its centre: the larger of |dx| and |dy| (offsets from the canvas centre as fractions of width and
 * height) picks the axis, its sign the side. Layouts keep the major offset >= MIN_MAJOR_OFFSET and at least twice the
 * minor one, so no shape sits near a boundary between two answers.
 */
export const MIN_MAJOR_OFFSET = 0.2;
export const MINOR_TO_MAJOR_MAX = 0.5;

/** Radius ranges (fraction of min(width, height)): well apart so that "small" and "large" are never ambiguous. */
export const RADIUS_RANGE: Readonly<Record<ShapeSize, readonly [number, number]>> = {
  small: [0.08, 0.1],
  large: [0.14, 0.17],
};

/** How far each kind reaches beyond its nominal radius (star and triangle points stick out). */
export const EXTENT_FACTOR: Readonly<Record<ShapeKind, number>> = {
  circle: 1,
  square: 1.13,
  triangle: 1.1,
  star: 1.1,
};

export function positionOf(cx: number, cy: number): Position {
  const dx = cx - 0.5;
  const dy = cy - 0.5;
  if (Math.abs(dx) >= Math.abs(dy)) return dx < 0 ? 'left' : 'right';
  return dy < 0 ? 'top' : 'bottom';
}

export function sizeOf(radius: number): ShapeSize {
  return radius >= (RADIUS_RANGE.small[1] + RADIUS_RANGE.large[0]) / 2 ? 'large' : 'small';
}

/** Unit direction of a position word in canvas coordinates (y grows downwards). */
export function directionOf(position: Position): { x: number; y: number } {
  switch (position) {
    case 'left':
      return { x: -1, y: 0 };
    case 'right':
      return { x: 1, y: 0 };
    case 'top':
      return { x: 0, y: -1 };
    case 'bottom':
      return { x: 0, y: 1 };
  }
}
