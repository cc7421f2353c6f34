/**
 * The closed scene language: every word a caption, question or answer can contain comes from these lists, so the
 * demo model's vocabulary and the evaluation can be derived from one place.
 */
export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'star'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export const SHAPE_COLORS = ['red', 'green', 'blue', 'yellow', 'orange', 'purple', 'white', 'black'] as const;
export type ShapeColor = (typeof SHAPE_COLORS)[number];

export const BACKGROUND_COLORS = ['white', 'gray', 'black'] as const;
export type BackgroundColor = (typeof BACKGROUND_COLORS)[number];

export const POSITIONS = ['left', 'right', 'top', 'bottom'] as const;
export type Position = (typeof POSITIONS)[number];

export const SIZES = ['small', 'large'] as const;
export type ShapeSize = (typeof SIZES)[number];

export const QUESTION_TYPES = ['color', 'shape', 'count', 'exists', 'position'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four'] as const;

/** Order in which objects are listed in a caption: roughly left to right, so the order is visible in the image. */
export const CAPTION_ORDER: readonly Position[] = ['left', 'top', 'bottom', 'right'];

/** Nominal sRGB of each colour name; renders jitter around these (see layout.ts). */
export const SHAPE_RGB: Readonly<Record<ShapeColor, readonly [number, number, number]>> = {
  red: [220, 30, 30],
  green: [30, 160, 60],
  blue: [30, 70, 220],
  yellow: [240, 210, 30],
  orange: [245, 130, 20],
  purple: [130, 50, 190],
  white: [250, 250, 250],
  black: [15, 15, 15],
};

/** Lightness range of each background name (both tones of a two-tone background stay inside it). */
export const BACKGROUND_LIGHTNESS: Readonly<Record<BackgroundColor, readonly [number, number]>> = {
  white: [228, 255],
  gray: [105, 165],
  black: [0, 38],
};

/** Nominal background grey level used by explicit requests that do not give one. */
export const BACKGROUND_NOMINAL: Readonly<Record<BackgroundColor, number>> = {
  white: 255,
  gray: 128,
  black: 10,
};

/** Everything the vocabulary must contain besides the lists above (captions, question templates, answers). */
export const FUNCTION_WORDS = [
  'a', 'an', 'the', 'and', 'on', 'of', 'in', 'is', 'are', 'there', 'what', 'which', 'how', 'many', 'where',
  'color', 'colour', 'shape', 'shapes', 'object', 'objects', 'background', 'picture', 'image', 'yes', 'no',
] as const;
