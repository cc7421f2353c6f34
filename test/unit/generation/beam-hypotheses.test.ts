import { describe, expect, it } from 'vitest';
import { BeamHypotheses } from '../../../src/generation/beam-hypotheses.ts';
import { ServiceError } from '../../../src/errors.ts';

const ids = (...values: number[]) => Int32Array.from(values);

describe('BeamHypotheses.add', () => {
  it('normalises by generated_len ** length_penalty', () => {
    const hyps = new BeamHypotheses(2, 2, false, 20);
    hyps.add(ids(1, 2, 3), -8, 2); // -8 / 2**2 = -2
    expect(hyps.best().score).toBe(-2);
  });

  it('keeps the num_beams best; drops the lowest, the earliest on ties', () => {
    const hyps = new BeamHypotheses(2, 1, false, 20);
    hyps.add(ids(10), -3, 1);
    hyps.add(ids(11), -3, 1);
    // Third: -1 > worst (-3) → added; overflow removes the lowest (score, index) pair = the first -3 (ids 10).
    hyps.add(ids(12), -1, 1);
    expect(hyps.size).toBe(2);
    // The remaining -3 (ids 11) is now the worst: -3 is not > -3, so an equal newcomer is refused.
    hyps.add(ids(13), -3, 1);
    expect(hyps.size).toBe(2);
    // A better one replaces ids 11; best() shows the survivors.
    hyps.add(ids(14), -2, 1);
    expect(Array.from(hyps.best().tokens)).toEqual([12]);
    // The worst score is now -2 (the second lowest of [-3, -1, -2] before the removal): with early_stopping false,
    // cur_len 4 and prompt 1 the bound is best / 3, so best -6 gives -2 (done) and -5.9 gives -1.97 (not done).
    expect(hyps.isDone(-6, 4, 1)).toBe(true);
    expect(hyps.isDone(-5.9, 4, 1)).toBe(false);
  });

  it('picks the last added among equal best scores (stable sort + pop)', () => {
    const hyps = new BeamHypotheses(3, 1, false, 20);
    hyps.add(ids(1), -2, 1);
    hyps.add(ids(2), -1, 1);
    hyps.add(ids(3), -1, 1);
    expect(Array.from(hyps.best().tokens)).toEqual([3]);
  });
});

describe('BeamHypotheses.isDone', () => {
  const full = (earlyStopping: boolean | 'never', lengthPenalty: number, maxLength = 10) => {
    const hyps = new BeamHypotheses(2, lengthPenalty, earlyStopping, maxLength);
    hyps.add(ids(1), -2, 1); // score -2
    hyps.add(ids(2), -4, 2); // score -4 / 2**lp
    return hyps;
  };

  it('is never done with fewer than num_beams hypotheses', () => {
    const hyps = new BeamHypotheses(2, 1, true, 10);
    hyps.add(ids(1), -1, 1);
    expect(hyps.isDone(-100, 5, 1)).toBe(false);
  });

  it('early_stopping true: done as soon as num_beams hypotheses exist', () => {
    expect(full(true, 1).isDone(0, 3, 1)).toBe(true);
  });

  it('early_stopping false: compares the worst score with best / (cur_len - prompt_len) ** lp', () => {
    // lp 1: worst = min(-2, -4/2) = -2. cur_len 4, prompt 1 → bound = best / 3.
    expect(full(false, 1).isDone(-6, 4, 1)).toBe(true); // -2 >= -6/3 = -2
    expect(full(false, 1).isDone(-5.9, 4, 1)).toBe(false); // -2 >= -1.966…? no
  });

  it("early_stopping 'never' with lp > 0: the bound uses max_length - prompt_len", () => {
    // lp 1, max_length 10, prompt 1 → bound = best / 9; worst -2.
    expect(full('never', 1).isDone(-18, 4, 1)).toBe(true); // -2 >= -2
    expect(full('never', 1).isDone(-17, 4, 1)).toBe(false);
  });

  it("early_stopping 'never' with lp <= 0: the bound uses cur_len like false", () => {
    // lp -1: scores -2 / 1**-1 = -2 and -4 / 2**-1 = -8 → worst -8; bound = best / (4 - 1)**-1 = best · 3.
    expect(full('never', -1).isDone(-8 / 3, 4, 1)).toBe(true);
    expect(full('never', -1).isDone(-2.6, 4, 1)).toBe(false);
  });

  it("raises like transformers when 'never' meets max_length <= prompt length", () => {
    expect(() => full('never', 1, 3).isDone(-1, 4, 3)).toThrow(ServiceError);
  });
});
