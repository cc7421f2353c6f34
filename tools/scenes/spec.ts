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
}

export type SplitDirection = 'vertical' | 'horizontal' | 'diagonal';

export interface BackgroundSpec {
  color: BackgroundColor;
  /** 'split' = two tones of the same named colour, so the caption's background word stays true. */
  style: 'plain' | 'split';
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
