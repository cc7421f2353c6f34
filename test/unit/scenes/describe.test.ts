import { describe, expect, it } from 'vitest';
import { captionOf, describeScene } from '../../../tools/scenes/describe.ts';
import { completeSceneSpec, sampleSceneSpec } from '../../../tools/scenes/layout.ts';
import { createRng, sceneSeed } from '../../../tools/scenes/rng.ts';
import { NUMBER_WORDS, SHAPE_KINDS } from '../../../tools/scenes/vocabulary.ts';

describe('captionOf', () => {
  it('lists objects left, top, bottom, right with size and colour', () => {
    const spec = completeSceneSpec({
      background: 'gray',
      shapes: [
        { shape: 'triangle', color: 'green', position: 'right', size: 'small' },
        { shape: 'circle', color: 'red', position: 'left' },
        { shape: 'square', color: 'blue', position: 'bottom', size: 'small' },
      ],
    });
    expect(captionOf(spec)).toBe('a large red circle, a small blue square and a small green triangle on a gray background');
  });

  it('describes a single red circle', () => {
    expect(captionOf(completeSceneSpec({ shapes: [{ shape: 'circle', color: 'red' }] }))).toBe(
      'a large red circle on a white background',
    );
  });

  it('keeps captions short enough for greedy decoding with max_length 20 ([DEC] + 18 words + [SEP])', () => {
    for (let i = 0; i < 300; i += 1) {
      const spec = sampleSceneSpec(createRng(sceneSeed(3, i)));
      const tokens = captionOf(spec).replace(/,/g, ' ,').split(' ');
      expect(tokens.length).toBeLessThanOrEqual(18);
    }
  });
});

describe('describeScene', () => {
  it('answers every question from the spec', () => {
    for (let i = 0; i < 300; i += 1) {
      const rng = createRng(sceneSeed(11, i));
      const spec = sampleSceneSpec(rng);
      const { questions } = describeScene(spec, rng);
      const byShape = new Map(spec.shapes.map((s) => [s.shape as string, s]));
      const byColor = new Map(spec.shapes.map((s) => [s.color as string, s]));
      for (const q of questions) {
        const words = q.question.replace('?', '').split(' ');
        const shapeWord = words.find((w) => byShape.has(w) || (SHAPE_KINDS as readonly string[]).includes(w));
        const colorWord = words.find((w) => byColor.has(w) || ['red', 'green', 'blue', 'yellow', 'orange', 'purple', 'white', 'black'].includes(w));
        switch (q.type) {
          case 'color':
            expect(q.answer).toBe(byShape.get(shapeWord!)!.color);
            break;
          case 'shape':
            expect(q.answer).toBe(byColor.get(colorWord!)!.shape);
            break;
          case 'count':
            expect(q.answer).toBe(NUMBER_WORDS[spec.shapes.length]);
            break;
          case 'exists':
            if (shapeWord !== undefined) expect(q.answer).toBe(byShape.has(shapeWord) ? 'yes' : 'no');
            else expect(q.answer).toBe(byColor.has(colorWord!) ? 'yes' : 'no');
            break;
          case 'position': {
            const target = shapeWord !== undefined ? byShape.get(shapeWord) : byColor.get(colorWord!);
            expect(q.answer).toBe(target!.position);
            break;
          }
        }
      }
      const count = (type: string): number => questions.filter((q) => q.type === type).length;
      expect([count('color'), count('shape'), count('count'), count('exists'), count('position')]).toEqual([
        spec.shapes.length,
        spec.shapes.length,
        1,
        6,
        spec.shapes.length,
      ]);
    }
  });

  it('uses the canonical wording without an rng', () => {
    const spec = completeSceneSpec({ shapes: [{ shape: 'circle', color: 'red' }] });
    expect(describeScene(spec).questions).toEqual([
      { type: 'color', question: 'what color is the circle?', answer: 'red' },
      { type: 'shape', question: 'what shape is red?', answer: 'circle' },
      { type: 'count', question: 'how many shapes are there?', answer: 'one' },
      { type: 'exists', question: 'is there a circle?', answer: 'yes' },
      { type: 'exists', question: 'is there a square?', answer: 'no' },
      { type: 'exists', question: 'is there a triangle?', answer: 'no' },
      { type: 'exists', question: 'is there a star?', answer: 'no' },
      { type: 'exists', question: 'is there a red shape?', answer: 'yes' },
      { type: 'exists', question: 'is there a green shape?', answer: 'no' },
      { type: 'position', question: 'where is the circle?', answer: 'left' },
    ]);
  });

  it('uses "an" before orange', () => {
    const spec = completeSceneSpec({ shapes: [{ shape: 'star', color: 'orange' }] });
    expect(describeScene(spec).questions.map((q) => q.question)).toContain('is there an orange shape?');
  });
});
