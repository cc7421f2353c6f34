import { describe, expect, it } from 'vitest';
import {
  applyLogitsProcessors,
  applyRepetitionPenalty,
  argmax,
  eosBanned,
  logSoftmaxInto,
  TokenMarks,
  type ProcessorRules,
} from '../../../src/generation/logits-processors.ts';

const rules = (overrides: Partial<ProcessorRules>): ProcessorRules => ({
  promptLength: 1,
  minLength: 0,
  minNewTokens: 0,
  repetitionPenalty: 1,
  eosTokenId: 0,
  ...overrides,
});

describe('applyRepetitionPenalty', () => {
  it('divides positive and multiplies negative scores of ids in the sequence, once per id', () => {
    // Sequence [0, 1, 1, 3] with p = 2: id 0 (2 → 2/2 = 1), id 1 (-1 → -1·2 = -2; twice in the sequence but
    // penalised once), id 3 (0 → 0/2 = 0, zero is "not < 0"); id 2 is not in the sequence and keeps 0.5.
    const scores = new Float32Array([2, -1, 0.5, 0]);
    applyRepetitionPenalty(scores, new Int32Array([0, 1, 1, 3]), 0, 4, 2, new TokenMarks(4));
    expect(Array.from(scores)).toEqual([1, -2, 0.5, 0]);
  });

  it('rounds like float32 tensors: the penalty and every result are float32', () => {
    // torch computes score / float32(1.1) and score * float32(1.1) in float32.
    const p = Math.fround(1.1);
    const scores = new Float32Array([1, -3]);
    applyRepetitionPenalty(scores, new Int32Array([0, 1]), 0, 2, 1.1, new TokenMarks(2));
    expect(scores[0]).toBe(Math.fround(1 / p));
    expect(scores[1]).toBe(Math.fround(-3 * p));
  });

  it('only reads the given window of the sequence buffer', () => {
    // Window sequence[1..3) = [2, 1]: ids 1 and 2 are penalised (4 / 4 = 1); id 0, outside the window, is not.
    const scores = new Float32Array([4, 4, 4]);
    applyRepetitionPenalty(scores, new Int32Array([0, 2, 1, 0]), 1, 2, 4, new TokenMarks(3));
    expect(Array.from(scores)).toEqual([4, 1, 1]);
  });
});

describe('eosBanned', () => {
  it('bans eos while length < minLength (prompt included)', () => {
    // cur_len is the length BEFORE the new token: min_length 3 bans at lengths 1 and 2, allows at 3.
    expect([1, 2, 3, 4].map((length) => eosBanned(length, rules({ minLength: 3 })))).toEqual([true, true, false, false]);
  });

  it('bans eos while fewer than minNewTokens were generated', () => {
    // Prompt of 3: new tokens = length - 3; min_new_tokens 2 bans at lengths 3 and 4.
    expect([3, 4, 5].map((length) => eosBanned(length, rules({ promptLength: 3, minNewTokens: 2 })))).toEqual([true, true, false]);
  });
});

describe('applyLogitsProcessors', () => {
  it('sets the eos score to -Infinity while banned, after the repetition penalty', () => {
    const scores = new Float32Array([5, 1, -1]);
    applyLogitsProcessors(scores, new Int32Array([2, 1]), 0, 2, rules({ minLength: 3, repetitionPenalty: 2 }), new TokenMarks(3));
    expect(Array.from(scores)).toEqual([-Infinity, 0.5, -2]);
  });

  it('leaves scores alone with the default rules', () => {
    const scores = new Float32Array([5, 1, -1]);
    applyLogitsProcessors(scores, new Int32Array([0, 1, 2]), 0, 3, rules({}), new TokenMarks(3));
    expect(Array.from(scores)).toEqual([5, 1, -1]);
  });
});

describe('logSoftmaxInto', () => {
  it('follows torch float32 order: (x - max) - log(sum exp(x - max))', () => {
    // logits [1, 2, 3]: max 3, shifted [-2, -1, 0], sum = e^-2 + e^-1 + 1.
    const logits = new Float32Array([0, 1, 2, 3]);
    const out = new Float32Array(3);
    logSoftmaxInto(logits, 1, 3, out);
    const logSum = Math.fround(Math.log(Math.fround(Math.exp(-2) + Math.exp(-1) + 1)));
    expect(Array.from(out)).toEqual([Math.fround(-2 - logSum), Math.fround(-1 - logSum), Math.fround(-logSum)]);
  });

  it('agrees with a float64 log-softmax to float32 precision and normalises', () => {
    const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 20);
    const out = new Float32Array(1000);
    logSoftmaxInto(logits, 0, 1000, out);
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
    for (let i = 0; i < 1000; i++) expect(Math.abs(out[i] - (logits[i] - lse))).toBeLessThan(1e-5);
    expect(out.reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 5);
  });
});

describe('argmax', () => {
  it('returns the first index of the maximum', () => {
    expect(argmax(new Float32Array([1, 3, 2, 3]), 4)).toBe(1);
    expect(argmax(new Float32Array([-Infinity, -Infinity]), 2)).toBe(0);
    expect(argmax(new Float32Array([0, 1, 9]), 2)).toBe(1); // size limits the search
  });
});

describe('TokenMarks', () => {
  it('is an O(1)-clear set of ids', () => {
    const marks = new TokenMarks(5);
    marks.clear();
    expect([marks.add(3), marks.add(3), marks.add(1)]).toEqual([true, false, true]);
    marks.clear();
    expect(marks.add(3)).toBe(true);
  });
});
