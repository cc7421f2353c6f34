import { describe, expect, it } from 'vitest';
import { generate } from '../../../src/generation/generate.ts';
import { planSearch } from '../../../src/generation/search-plan.ts';
import { createRandom, FakeDecoder, seededLogits, tableLogits, type LogitsFunction } from './fake-decoder.ts';
import { A, B, DEC, EOS, makeRequest } from './helpers.ts';
import { referenceGenerate, referenceLogSoftmax, referenceProcess, type ReferenceOptions } from './reference-generate.ts';

// Hand-made cases over the vocabulary [eos, a, b, [DEC]]; tables give probabilities [eos, a, b, [DEC]] per history,
// the fake decoder returns ln p (ln 0 → -30), so log_softmax gives back ln p. Values below are ln p rounded to 4
// decimals; every decision has a margin far above float32 rounding.

describe('beam search, hand-checked', () => {
  it('scores finished hypotheses by new tokens incl. eos (4.36), not by the whole sequence (≤ 4.35)', async () => {
    // num_beams 2, prompt [DEC a b] (3 tokens), max_new_tokens 2 → max_length 5, length_penalty 1.
    // Step 1 (from the prompt): eos -0.9163, a -1.0498, b -1.3863 (+ the -1e9 copies of beam 1, never in the top 4).
    //   rank 0 eos → hypothesis [DEC a b], generated_len = (3 + 1) - 3 = 1 → score -0.9163.
    //   rank 1 a → beam 0 (-1.0498); rank 2 b → beam 1 (-1.3863). 1 hypothesis < 2 → not done.
    // Step 2: beam 0 + a = -1.0498 - 0.5108 = -1.5606, beam 1 + a = -1.3863 - 0.6931 = -2.0794 are the two best
    //   non-eos candidates (the eos candidates, -3.35 and -3.69, rank 4th and lower). Length 5 = max_length.
    // finalize: open beams with generated_len 2: -1.5606 / 2 = -0.7803 and -2.0794 / 2 = -1.0397.
    //   Best: -0.7803 > -0.9163 → [DEC a b a a], 5 tokens = max_length → no eos appended.
    // (4.35 would score -0.9163 / 3 = -0.3054 against -1.5606 / 5 = -0.3121 and return [DEC a b] + eos.)
    const logits = tableLogits({
      '3,1,2': [0.4, 0.35, 0.25, 0],
      '3,1,2,1': [0.1, 0.6, 0.3, 0],
      '3,1,2,2': [0.1, 0.5, 0.4, 0],
    });
    const [sequence] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC, A, B], { numBeams: 2, maxNewTokens: 2 })]);
    expect(sequence).toEqual([DEC, A, B, A, A]);
  });

  it('drops eos candidates ranked num_beams or lower', async () => {
    // num_beams 2, prompt [DEC], max_length 4, length_penalty 1, early_stopping true.
    // Step 1: a -0.5978 (r0), b -1.0498 (r1) fill the beams (eos -2.3026 is never reached).
    // Step 2: [DEC a]+eos -1.2910 (r0) → hypothesis [DEC a] = -1.2910 / 2 = -0.6455; [DEC a a] -1.5141 (r1) beam;
    //   [DEC b]+eos -1.7430 (r2 ≥ 2) → dropped; [DEC b a] -1.9661 (r3) beam. One hypothesis → not done.
    //   (Keeping the r2 eos would make two hypotheses and stop here with [DEC a] + eos.)
    // Step 3: [DEC a a]+eos -1.6195 (r0) → -1.6195 / 3 = -0.5398, the second hypothesis → done (true).
    //   Best -0.5398 → [DEC a a] + eos.
    const logits = tableLogits({
      '3': [0.1, 0.55, 0.35, 0],
      '3,1': [0.5, 0.4, 0.1, 0],
      '3,2': [0.5, 0.4, 0.1, 0],
      '3,1,1': [0.9, 0.06, 0.04, 0],
      '3,2,1': [0.2, 0.5, 0.3, 0],
    });
    const [sequence] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC], { numBeams: 2, maxLength: 4, earlyStopping: true })]);
    expect(sequence).toEqual([DEC, A, A, EOS]);
  });

  describe('early stopping', () => {
    // num_beams 2, prompt [DEC], max_length 20, length_penalty 1.
    // Step 1: eos -0.6931 (r0) → H0 [DEC] = -0.6931 / 1; a -1.0498 (r1), b -1.8971 (r2) become the beams.
    // Step 2: [DEC a a] -1.7429 (r0) beam; [DEC a]+eos -1.9661 (r1) → H1 [DEC a] = -1.9661 / 2 = -0.9831;
    //   [DEC b a] -2.2538 (r2) beam. Two hypotheses; worst -0.9831; best candidate -1.7429, cur_len 3.
    //     true    → done now; best H0 → [DEC] + eos.
    //     false   → bound -1.7429 / (3 - 1) = -0.8715; -0.9831 >= -0.8715 is false → continue.
    //     'never' → bound -1.7429 / (20 - 1) = -0.0917 → continue.
    // Step 3: [DEC a a]+eos -1.8483 (r0) → H2 = -1.8483 / 3 = -0.6161, evicts H1, worst -0.6931;
    //   [DEC b a]+eos -2.9469 (r1) → -0.9823, not above the worst → refused; [DEC b a a] -3.4578 and
    //   [DEC b a b] -3.8632 become the beams (both children of beam 1). false: bound -1.8483 / 3 = -0.6161 → continue.
    // Step 4: [DEC b a a a] -4.3741 and [DEC b a a b] -4.5076 fill the beams.
    //     false   → bound -4.3741 / 4 = -1.0935 ≤ worst -0.6931 → done; best H2 → [DEC a a] + eos.
    //     'never' → bound -4.3741 / 19 = -0.2302 → continue.
    // Steps 5–19 (fallback [eos .0005, a .998, b .0015]): both beams append a (-0.0020 each); eos candidates rank
    //   below both beams' "b" candidates and are dropped. At length 20 finalize adds the open beams:
    //   [DEC b a a a + 15 a] = (-4.3741 - 15 · 0.0020) / 19 = -0.2318, the best → returned without eos.
    const logits = tableLogits(
      {
        '3': [0.5, 0.35, 0.15, 0],
        '3,1': [0.4, 0.5, 0.1, 0],
        '3,2': [0.2, 0.7, 0.1, 0],
        '3,1,1': [0.9, 0.06, 0.04, 0],
        '3,2,1': [0.5, 0.3, 0.2, 0],
        '3,2,1,1': [0.25, 0.4, 0.35, 0],
        '3,2,1,2': [0.25, 0.4, 0.35, 0],
      },
      [0.0005, 0.998, 0.0015, 0],
    );
    const run = async (earlyStopping: boolean | 'never') => {
      const decoder = new FakeDecoder(4, logits);
      const [sequence] = await generate(decoder, [makeRequest([DEC], { numBeams: 2, earlyStopping })]);
      return { sequence, decoder };
    };

    it('true: stops as soon as num_beams hypotheses exist', async () => {
      const { sequence, decoder } = await run(true);
      expect(sequence).toEqual([DEC, EOS]);
      expect(decoder.nextCalls).toHaveLength(1);
    });

    it('false: stops when the heuristic bound cannot beat the worst hypothesis; beams reorder and duplicate', async () => {
      const { sequence, decoder } = await run(false);
      expect(sequence).toEqual([DEC, A, A, EOS]);
      // The prompt runs once; the first step duplicates it into both beams. Step 3's beams both continue beam 1
      // (row 1): row 0 is dropped and row 1 duplicated. Done after step 4: nothing more is fed.
      expect(decoder.startCalls).toEqual([[{ context: 0, history: [DEC] }]]);
      expect(decoder.nextCalls).toEqual([
        { parents: [0, 0], tokens: [A, B] },
        { parents: [0, 1], tokens: [A, A] },
        { parents: [1, 1], tokens: [A, B] },
      ]);
    });

    it("'never': runs until no hypothesis can improve, here to max_length", async () => {
      const { sequence, decoder } = await run('never');
      expect(sequence).toEqual([DEC, B, A, A, A, ...new Array(15).fill(A)]);
      expect(decoder.nextCalls).toHaveLength(18); // lengths 2..19 are fed; length 20 ends the search
    });
  });

  it('appends eos to a best hypothesis shorter than max_length, never to one that reaches it', async () => {
    // eos is a hypothesis at the last step: [DEC] then a (0.6), then eos (0.7) at length 2 → [DEC a] + eos fits in
    // max_length 3. Any open beam has length 3 = max_length and gets no eos (first hand case above).
    const logits = tableLogits({ '3': [0.1, 0.6, 0.3, 0], '3,1': [0.7, 0.2, 0.1, 0], '3,2': [0.7, 0.2, 0.1, 0] });
    const [sequence] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC], { numBeams: 2, maxLength: 3 })]);
    expect(sequence).toEqual([DEC, A, EOS]);
  });
});

/**
 * Exhaustive search: every continuation of the prompt (ending in eos, or reaching max_length), scored like 4.36 scores
 * hypotheses (float32 running sum / generated_len ** length_penalty; generated_len counts the eos). With
 * early_stopping 'never', length_penalty > 0 and num_beams at least the number of live candidates, beam search must
 * return exactly this optimum (no pruning, a sound stopping bound).
 */
function exhaustiveBest(logitsOf: LogitsFunction, context: number, prompt: number[], options: ReferenceOptions, eos: number): number[] {
  let best = { score: -Infinity, output: [] as number[] };
  const offer = (output: number[], sum: number, generatedLength: number) => {
    const score = sum / generatedLength ** options.lengthPenalty;
    if (score > best.score) best = { score, output };
  };
  const visit = (ids: number[], sum: number) => {
    const logp = referenceProcess(referenceLogSoftmax(Array.from(logitsOf(context, ids), Math.fround)), ids, prompt.length, options, eos);
    logp.forEach((lp, token) => {
      const total = Math.fround(sum + lp);
      if (token === eos) {
        if (total !== -Infinity) offer([...ids, eos], total, ids.length + 1 - prompt.length);
      } else if (ids.length + 1 >= options.maxLength) {
        offer([...ids, token], total, ids.length + 1 - prompt.length);
      } else {
        visit([...ids, token], total);
      }
    });
  };
  visit(prompt, 0);
  return best.output;
}

describe('beam search against exhaustive search', () => {
  it("returns the global optimum with early_stopping 'never' and enough beams", async () => {
    const random = createRandom(2024);
    for (let trial = 0; trial < 150; trial++) {
      const vocabSize = 3; // eos 0 and two tokens: at most 2^(n-1) live sequences
      const promptLength = 1 + Math.floor(random() * 2);
      const prompt = Array.from({ length: promptLength }, () => 1 + Math.floor(random() * 2));
      const maxNewTokens = 1 + Math.floor(random() * 4);
      const numBeams = 3 * 2 ** (maxNewTokens - 1); // ≥ every step's real candidates
      const lengthPenalty = [0.5, 1, 2][Math.floor(random() * 3)];
      const repetitionPenalty = [1, 1.3, 0.8][Math.floor(random() * 3)];
      const minNewTokens = Math.floor(random() * 2);
      const logitsOf = seededLogits({ seed: trial, vocabSize, eosTokenId: EOS, spread: 2, eosBias: random() * 2 - 1 });
      const request = makeRequest(prompt, { numBeams, maxNewTokens, lengthPenalty, repetitionPenalty, minNewTokens, earlyStopping: 'never' }, trial);
      const plan = planSearch(request, vocabSize);
      const expected = exhaustiveBest(logitsOf, trial, prompt, { ...plan, maxLength: plan.maxLength, numBeams }, EOS);
      const [actual] = await generate(new FakeDecoder(vocabSize, logitsOf), [request]);
      expect(actual, `trial ${trial}`).toEqual(expected);
    }
  });
});

describe('beam and greedy search against the naive reference', () => {
  it('match on random logits over all option combinations', async () => {
    const random = createRandom(99);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    for (let trial = 0; trial < 400; trial++) {
      const vocabSize = 3 + Math.floor(random() * 8);
      const eos = Math.floor(random() * vocabSize);
      const prompt = Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * vocabSize));
      const options = {
        numBeams: pick([1, 2, 3, 4, 6]),
        lengthPenalty: pick([-1, 0, 0.5, 1, 1.7]),
        earlyStopping: pick([true, false, 'never'] as const),
        repetitionPenalty: pick([1, 1, 1.4, 0.7]),
        minLength: pick([0, 0, 3, 6]),
        minNewTokens: pick([0, 0, 2]),
        ...(random() < 0.5 ? { maxNewTokens: 1 + Math.floor(random() * 9) } : { maxLength: prompt.length + Math.floor(random() * 10) }),
      };
      if (options.earlyStopping === 'never' && options.lengthPenalty > 0 && 'maxLength' in options && options.maxLength <= prompt.length) continue;
      const logitsOf = seededLogits({ seed: 1000 + trial, vocabSize, eosTokenId: eos, spread: 3, eosBias: pick([-1, 0, 1]), eosGrowth: pick([0, 0.3]) });
      const request = makeRequest(prompt, options, trial % 5, eos);
      const plan = planSearch(request, vocabSize);
      const expected = referenceGenerate(logitsOf, vocabSize, trial % 5, prompt, plan, eos);
      const [actual] = await generate(new FakeDecoder(vocabSize, logitsOf), [request]);
      expect(actual, `trial ${trial} ${JSON.stringify(options)}`).toEqual(expected);
    }
  });
});
