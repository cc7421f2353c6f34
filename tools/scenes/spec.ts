import type { BackgroundColor, Position, ShapeColor, ShapeKind, ShapeSize } from './vocabulary.ts';

export type Rgb = readonly [number, number, number];

/** One object of a scene, fully resolved: everything needed to draw it and to describe it. */
export interface ShapeSpec {
  shape: ShapeKind;
  color: ShapeColor;
  size: ShapeSize;
  position: Position;
  /** Centre as a fraction of the canvas width / height. */
  cx: number;
  cy: number;
  /** Nominal radius as a fraction of min(width, height); the drawn outline scales with it per kind. */
  radius: number;
  /** Degrees, clockwise. */
  rotation: number;
  rgb: Rgb;
  /** Proportions of the augmented training generator (augment.ts); absent = the default drawing. */
  geometry?: ShapeGeometry;
}

/** Drawing proportions the augmented generator varies (svg.ts uses its defaults when they are absent). */
export interface ShapeGeometry {
  /** Horizontal / vertical scale ratio (the area is kept): 1 = as drawn. */
  stretch: number;
  /** Square half-side per unit radius (default 0.8). */
  squareHalfSide: number;
  /** Triangle height / base (equilateral 0.866); the triangle is rescaled to reach EXTENT_FACTOR.triangle. */
  triangleHeight: number;
  /** Apex offset along the base, as a fraction of the half-base (0 = isosceles). */
  triangleApex: number;
  /** Star inner / outer radius (default 0.45). */
  starInner: number;
}

export type SplitDirection = 'vertical' | 'horizontal' | 'diagonal';

export interface BackgroundSpec {
  color: BackgroundColor;
  /**
   * 'split' = two tones of the same named colour, so the caption's background word stays true; 'gradient' = a linear
   * blend between the two tones along the split direction (augmented generator only).
   */
  style: 'plain' | 'split' | 'gradient';
  rgb: Rgb;
  /** Second tone (equal to rgb when plain). */
  rgb2: Rgb;
  split: SplitDirection;
  /** Where the split line crosses, as a fraction of the canvas. */
  splitAt: number;
}

export interface RenderSpec {
  width: number;
  height: number;
  /** false renders with shape-rendering="crispEdges" (no anti-aliasing). */
  antialias: boolean;
  /** Standard deviation of additive per-pixel noise in 8-bit units; 0 = none. */
  noise: number;
  noiseSeed: number;
  format: 'png' | 'jpeg';
  /** JPEG quality (ignored for PNG). */
  quality: number;
}

export interface SceneSpec {
  background: BackgroundSpec;
  shapes: ShapeSpec[];
  render: RenderSpec;
}

/** What a caller may ask for explicitly; everything left out gets a clean, deterministic default (see complete-spec.ts). */
export interface ShapeRequest {
  shape: ShapeKind;
  color: ShapeColor;
  size?: ShapeSize;
  position?: Position;
  cx?: number;
  cy?: number;
  radius?: number;
  rotation?: number;
  rgb?: Rgb;
}

export interface SceneRequest {
  shapes: ShapeRequest[];
  background?: BackgroundColor | Partial<BackgroundSpec>;
  render?: Partial<RenderSpec>;
}
