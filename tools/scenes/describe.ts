import { pick, type Rng } from './rng.ts';
import type { SceneSpec, ShapeSpec } from './spec.ts';
import { CAPTION_ORDER, NUMBER_WORDS, SHAPE_COLORS, SHAPE_KINDS, type QuestionType, type ShapeColor } from './vocabulary.ts';

export interface QuestionAnswer {
  type: QuestionType;
  question: string;
  answer: string;
}

export interface SceneDescription {
  caption: string;
  questions: QuestionAnswer[];
}

/**
 * Question templates per type. Index 0 is the canonical wording (used when no rng is given, e.g. for explicit
 * requests); random scenes pick among all of them so the model does not depend on one phrasing.
 */
export const TEMPLATES = {
  color: ['what color is the {shape}?', 'what colour is the {shape}?', 'what is the color of the {shape}?'],
  shape: ['what shape is {color}?', 'which shape is {color}?', 'what is the {color} shape?'],
  count: ['how many shapes are there?', 'how many shapes are in the picture?', 'how many objects are there?'],
  existsShape: ['is there a {shape}?', 'is there a {shape} in the picture?'],
  existsColor: ['is there {a} {color} shape?', 'is there {a} {color} object?'],
  position: ['where is the {shape}?', 'where is the {color} {shape}?', 'where is the {color} shape?'],
} as const;

/** Objects in caption order (by region: left, top, bottom, right). */
export function orderedShapes(spec: SceneSpec): ShapeSpec[] {
  return [...spec.shapes].sort((a, b) => CAPTION_ORDER.indexOf(a.position) - CAPTION_ORDER.indexOf(b.position));
}

/** "a large red circle, a small blue square and a large green star on a white background" (at most 18 words). */
export function captionOf(spec: SceneSpec): string {
  const phrases = orderedShapes(spec).map((s) => `a ${s.size} ${s.color} ${s.shape}`);
  const last = phrases.pop();
  const objects = phrases.length === 0 ? last : `${phrases.join(', ')} and ${last}`;
  return `${objects} on a ${spec.background.color} background`;
}

export function describeScene(spec: SceneSpec, rng?: Rng): SceneDescription {
  const shapes = orderedShapes(spec);
  const template = (options: readonly string[]): string => (rng === undefined ? options[0]! : pick(rng, options));
  const fill = (text: string, values: Record<string, string>): string =>
    text.replace(/\{(\w+)\}/g, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new Error(`Template ${text} has no value for ${key}`);
      return value;
    });
  const questions: QuestionAnswer[] = [];
  for (const s of shapes) {
    questions.push({ type: 'color', question: fill(template(TEMPLATES.color), { shape: s.shape }), answer: s.color });
  }
  for (const s of shapes) {
    questions.push({ type: 'shape', question: fill(template(TEMPLATES.shape), { color: s.color }), answer: s.shape });
  }
  questions.push({ type: 'count', question: template(TEMPLATES.count), answer: NUMBER_WORDS[shapes.length]! });
  for (const kind of SHAPE_KINDS) {
    const present = shapes.some((s) => s.shape === kind);
    questions.push({ type: 'exists', question: fill(template(TEMPLATES.existsShape), { shape: kind }), answer: present ? 'yes' : 'no' });
  }
  const presentColors = shapes.map((s) => s.color);
  // The background's own name is never a shape colour; asking about it would only test the background.
  const absentColors = SHAPE_COLORS.filter((c) => !presentColors.includes(c) && c !== spec.background.color);
  const askPresent = rng === undefined ? presentColors[0] : pick(rng, presentColors);
  const askAbsent = rng === undefined ? absentColors[0] : pick(rng, absentColors);
  for (const [color, answer] of [[askPresent, 'yes'], [askAbsent, 'no']] as const) {
    if (color === undefined) continue;
    questions.push({ type: 'exists', question: fill(template(TEMPLATES.existsColor), { color, a: article(color) }), answer });
  }
  for (const s of shapes) {
    questions.push({ type: 'position', question: fill(template(TEMPLATES.position), { shape: s.shape, color: s.color }), answer: s.position });
  }
  return { caption: captionOf(spec), questions };
}

function article(color: ShapeColor): string {
  return /^[aeiou]/.test(color) ? 'an' : 'a';
}
