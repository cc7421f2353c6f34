import { describe, expect, it } from 'vitest';
import { generate } from '../../../src/generation/generate.ts';
import { planSearch, type GenerationRequest } from '../../../src/generation/search-plan.ts';
import { createRandom, FakeDecoder, seededLogits, tableLogits } from './fake-decoder.ts';
import { A, B, DEC, EOS, makeRequest } from './helpers.ts';
import { referenceGenerate } from './reference-generate.ts';

describe('generate over several requests', () => {
  it('returns [] without touching the decoder for no requests', async () => {
    const decoder = new FakeDecoder(4, () => [0, 0, 0, 0]);
    expect(await generate(decoder, [])).toEqual([]);
    expect(decoder.startCalls).toEqual([]);
  });

  it('feeds all live rows in one call and drops the rows of finished requests', async () => {
    // Request 0 (context 0, greedy): [DEC] → a → eos. Request 1 (context 1, greedy, prompt [DEC b]): always a,
    // max_new_tokens 3. Request 2 (context 2, 2 beams, [DEC]): max_new_tokens 2.
    const logits = (context: number, history: readonly number[]) => {
      if (context === 0) return tableLogits({ '3': [0.1, 0.8, 0.1, 0], '3,1': [0.8, 0.1, 0.1, 0] })(context, history);
      if (context === 1) return [-5, 2, 1, -5];
      return tableLogits({}, [0.2, 0.5, 0.3, 0])(context, history);
    };
    const decoder = new FakeDecoder(4, logits);
    const results = await generate(decoder, [
      makeRequest([DEC], {}, 0),
      makeRequest([DEC, B], { maxNewTokens: 3 }, 1),
      makeRequest([DEC], { numBeams: 2, maxNewTokens: 2 }, 2),
    ]);
    expect(results[0]).toEqual([DEC, A, EOS]);
    expect(results[1]).toEqual([DEC, B, A, A, A]);
    // Beam request (every history [eos .2, a .5, b .3]): step 1 beams a -0.6931, b -1.2040; step 2 fills the beams
    // with a+a -1.3863 and a+b -1.8971 (b+a is the same float32 sum; the lower flat index, beam 0, comes first), no
    // eos candidate is reached. Length 3 = max_length: finalize picks a a (-1.3863 / 2) → [DEC a a], no eos.
    expect(results[2]).toEqual([DEC, A, A]);

    // One start call with one row per request (the beam request's prompt runs once).
    expect(decoder.startCalls).toEqual([
      [
        { context: 0, history: [DEC] },
        { context: 1, history: [DEC, B] },
        { context: 2, history: [DEC] },
      ],
    ]);
    // Next call 1: request 0's row (a), request 1's row (a), the beam row duplicated into 2 beams.
    expect(decoder.nextCalls[0]).toEqual({ parents: [0, 1, 2, 2], tokens: [A, A, A, B] });
    // Request 0 emitted eos from call 1's logits: it is gone from call 2; request 2 reached max_length after call 1.
    expect(decoder.nextCalls[1]).toEqual({ parents: [1], tokens: [A] });
    expect(decoder.nextCalls).toHaveLength(2);
  });

  it('gives every request exactly what it gets alone (property test over random mixes)', async () => {
    const random = createRandom(31337);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    for (let trial = 0; trial < 120; trial++) {
      const vocabSize = 4 + Math.floor(random() * 10);
      const eos = Math.floor(random() * vocabSize);
      const logitsOf = seededLogits({ seed: trial, vocabSize, eosTokenId: eos, eosBias: pick([-1, 0, 1.5]), eosGrowth: pick([0, 0.25]) });
      const count = 1 + Math.floor(random() * 6);
      const requests: GenerationRequest[] = Array.from({ length: count }, (_, i) => {
        const prompt = Array.from({ length: 1 + Math.floor(random() * 5) }, () => Math.floor(random() * vocabSize));
        const lengths = random() < 0.5 ? { maxNewTokens: 1 + Math.floor(random() * 8) } : { maxLength: prompt.length + 1 + Math.floor(random() * 8) };
        const options = {
          ...lengths,
          numBeams: pick([1, 1, 2, 3, 5]),
          lengthPenalty: pick([-0.5, 0, 1, 2]),
          earlyStopping: pick([true, false, 'never'] as const),
          repetitionPenalty: pick([1, 1.25]),
          minLength: pick([0, 4]),
          minNewTokens: pick([0, 1]),
        };
        // Contexts may repeat: two requests can read the same image.
        return makeRequest(prompt, options, Math.floor(random() * 3), eos);
      });

      const batchDecoder = new FakeDecoder(vocabSize, logitsOf);
      const batched = await generate(batchDecoder, requests);
      const alone = await Promise.all(
        requests.map(async (request) => {
          const decoder = new FakeDecoder(vocabSize, logitsOf);
          const [sequence] = await generate(decoder, [request]);
          return { sequence, calls: 1 + decoder.nextCalls.length, decoder };
        }),
      );
      const label = `trial ${trial}`;
      expect(batched, label).toEqual(alone.map((a) => a.sequence));
      // …and what the naive reference transcription of transformers computes.
      requests.forEach((request, i) => {
        const plan = planSearch(request, vocabSize);
        expect(batched[i], `${label} request ${i}`).toEqual(referenceGenerate(logitsOf, vocabSize, request.context, [...request.prompt], plan, eos));
      });
      // The batch makes as many decoder calls as the longest request alone, and at every call it feeds exactly the
      // rows the requests still alive would feed alone (finished requests' rows are gone), in request order.
      expect(1 + batchDecoder.nextCalls.length).toBe(Math.max(...alone.map((a) => a.calls)));
      batchDecoder.rowsPerCall.forEach((rows, call) => {
        const expectedRows = alone.flatMap((a) => (call < a.calls ? a.decoder.rowsPerCall[call] : []));
        expect(rows, `${label} call ${call}`).toEqual(expectedRows);
      });
    }
  });
});
