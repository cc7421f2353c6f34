import { describe, expect, it } from 'vitest';
import { TopCandidates } from '../../../src/generation/top-candidates.ts';
import { createRandom } from './fake-decoder.ts';

describe('TopCandidates', () => {
  it('keeps the best scores in descending order, ties in offering order', () => {
    const top = new TopCandidates(3);
    // Offered (score, beam, token) in flat order; the two 5s tie and the earlier one (token 1) ranks first.
    for (const [score, token] of [[1, 0], [5, 1], [3, 2], [5, 3], [4, 4]]) top.offer(score, 0, token);
    expect(top.size).toBe(3);
    expect(Array.from(top.scores)).toEqual([5, 5, 4]);
    expect(Array.from(top.tokens)).toEqual([1, 3, 4]);
  });

  it('does not let a later equal score displace the last kept one', () => {
    const top = new TopCandidates(2);
    for (const [score, token] of [[2, 0], [1, 1], [1, 2]]) top.offer(score, 0, token);
    expect(Array.from(top.tokens)).toEqual([0, 1]);
  });

  it('accepts -Infinity while not full', () => {
    const top = new TopCandidates(2);
    top.offer(-Infinity, 1, 7);
    expect(top.size).toBe(1);
    expect([top.scores[0], top.beams[0], top.tokens[0]]).toEqual([-Infinity, 1, 7]);
  });

  it('equals a full stable sort by descending score over random rows with many ties', () => {
    const random = createRandom(7);
    for (let trial = 0; trial < 200; trial++) {
      const beams = 1 + Math.floor(random() * 4);
      const vocab = 1 + Math.floor(random() * 30);
      const capacity = 1 + Math.floor(random() * 10);
      const all: Array<{ score: number; beam: number; token: number }> = [];
      const top = new TopCandidates(capacity);
      for (let beam = 0; beam < beams; beam++) {
        for (let token = 0; token < vocab; token++) {
          const score = Math.floor(random() * 6) - 3; // coarse values: plenty of ties
          all.push({ score, beam, token });
          top.offer(score, beam, token);
        }
      }
      const expected = all.sort((a, b) => b.score - a.score).slice(0, capacity);
      const actual = Array.from({ length: top.size }, (_, i) => ({ score: top.scores[i], beam: top.beams[i], token: top.tokens[i] }));
      expect(actual).toEqual(expected);
    }
  });
});
