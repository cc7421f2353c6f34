import { describe, expect, it } from 'vitest';
import { generate, GenerationSession, type GenerationRequest } from '../../../../../../src/generation/generate.ts';
import { createRandom, FakeDecoder, seededLogits } from '../../../../generation/fake-decoder.ts';
import { A, B, DEC, makeRequest } from '../../../../generation/helpers.ts';

describe('GenerationSession (continuous batching over a TokenDecoder)', () => {
  it('feeds the running rows and the joining prompts in one step call, running rows first', async () => {
    const decoder = new FakeDecoder(4, () => [-5, 2, 1, -5]);
    const session = new GenerationSession<string>(decoder);
    session.add('first', makeRequest([DEC], { maxNewTokens: 3 }));
    await session.step();
    expect(decoder.startCalls).toEqual([[{ context: 0, history: [DEC] }]]);
    session.add('second', makeRequest([DEC, B], { maxNewTokens: 1, numBeams: 2 }, 1));
    await session.step();
    // 'first' continues with a; 'second' starts from its prompt as the row after it.
    expect(decoder.stepCalls).toEqual([{ parents: [0], tokens: [A], admitted: [{ context: 1, history: [DEC, B] }] }]);
    expect(session.lastRows).toBe(2);
    expect(session.reservedRows).toBe(3);
    // 'second' (one new token) finishes at the next advance; 'first' goes on alone.
    expect(await session.step()).toEqual([{ key: 'second', sequence: [DEC, B, A] }]);
    expect(decoder.nextCalls.at(-1)).toEqual({ parents: [0], tokens: [A] });
    expect(await session.step()).toEqual([{ key: 'first', sequence: [DEC, A, A, A] }]);
    expect(session.size).toBe(0);
  });

  it('a removed request leaves: at once while joining, at the next advance while running', async () => {
    const decoder = new FakeDecoder(4, () => [-5, 2, 1, -5]);
    const session = new GenerationSession<string>(decoder);
    session.add('a', makeRequest([DEC], { maxNewTokens: 5 }));
    session.add('b', makeRequest([DEC], { maxNewTokens: 5, numBeams: 2 }, 1));
    await session.step();
    session.add('c', makeRequest([DEC], { maxNewTokens: 5 }, 2));
    expect(session.remove('c')).toBe(true);
    expect(session.remove('b')).toBe(true);
    expect(session.remove('nobody')).toBe(false);
    await session.step();
    // b's rows were not continued and c never started: only a's row was fed.
    expect(decoder.nextCalls.at(-1)).toEqual({ parents: [0], tokens: [A] });
    expect(session.keys()).toEqual(['a']);
    // Removed after advance: its queued row is fed once more, then dropped.
    session.advance();
    session.remove('a');
    await session.decode();
    expect(decoder.nextCalls).toHaveLength(2);
    expect(session.advance()).toEqual([]);
    expect(session.size).toBe(0);
  });

  it('gives every request what it gets alone, whatever step it joins at (property test)', async () => {
    const random = createRandom(4242);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    for (let trial = 0; trial < 60; trial++) {
      const vocabSize = 5 + Math.floor(random() * 8);
      const eos = Math.floor(random() * vocabSize);
      const logitsOf = seededLogits({ seed: trial, vocabSize, eosTokenId: eos, eosBias: pick([-1, 0, 1]), eosGrowth: pick([0, 0.2]) });
      const requests: Array<GenerationRequest & { joinAt: number }> = Array.from({ length: 1 + Math.floor(random() * 7) }, () => {
        const prompt = Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * vocabSize));
        const options = { maxNewTokens: 1 + Math.floor(random() * 8), numBeams: pick([1, 1, 2, 3]), earlyStopping: pick([true, false, 'never'] as const) };
        return { ...makeRequest(prompt, options, Math.floor(random() * 3), eos), joinAt: Math.floor(random() * 8) };
      });
      const alone = await Promise.all(requests.map(async (request) => (await generate(new FakeDecoder(vocabSize, logitsOf), [request]))[0]));
      const session = new GenerationSession<number>(new FakeDecoder(vocabSize, logitsOf));
      const results: number[][] = [];
      for (let step = 0; session.size > 0 || requests.some((r) => r.joinAt >= step); step++) {
        for (const { key, sequence } of session.advance()) results[key] = sequence;
        requests.forEach((request, i) => request.joinAt === step && session.add(i, request));
        await session.decode();
      }
      expect(results, `trial ${trial}`).toEqual(alone);
    }
  });

  it('is broken after a failed decoder call', async () => {
    const decoder = new FakeDecoder(4, () => [0, 1, 0, 0]);
    const session = new GenerationSession<number>(decoder);
    session.add(0, makeRequest([DEC], { maxNewTokens: 3 }));
    await session.step();
    decoder.dispose();
    await expect(session.step()).rejects.toThrow('disposed');
    expect(() => session.add(1, makeRequest([DEC]))).toThrow('disposed');
  });
});
