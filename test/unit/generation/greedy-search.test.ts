import { describe, expect, it } from 'vitest';
import { generate } from '../../../src/generation/generate.ts';
import { FakeDecoder, tableLogits, type LogitsFunction } from './fake-decoder.ts';
import { A, B, DEC, EOS, makeRequest } from './helpers.ts';

/** Constant logits [eos, a, b, [DEC]] whatever the history. */
const constant = (values: number[]): LogitsFunction => () => values;

describe('greedy search', () => {
  it('stops after emitting eos and keeps it; the finished row leaves the decoder', async () => {
    // [DEC] → a (0.6) → b (0.5) → eos (0.7).
    const decoder = new FakeDecoder(
      4,
      tableLogits({ '3': [0.1, 0.6, 0.3, 0], '3,1': [0.2, 0.3, 0.5, 0], '3,1,2': [0.7, 0.2, 0.1, 0] }),
    );
    const [sequence] = await generate(decoder, [makeRequest([DEC])]);
    expect(sequence).toEqual([DEC, A, B, EOS]);
    expect(decoder.startCalls).toEqual([[{ context: 0, history: [DEC] }]]);
    // The eos is chosen from the logits of [DEC a b]; it is never fed back.
    expect(decoder.nextCalls).toEqual([
      { parents: [0], tokens: [A] },
      { parents: [0], tokens: [B] },
    ]);
  });

  it('stops when the sequence reaches maxLength (prompt included), without eos', async () => {
    const decoder = new FakeDecoder(4, constant([-1, 2, 1, -5]));
    const [sequence] = await generate(decoder, [makeRequest([DEC], { maxLength: 5 })]);
    expect(sequence).toEqual([DEC, A, A, A, A]);
    expect(decoder.nextCalls).toHaveLength(3); // logits for lengths 1 (start), 2, 3, 4
  });

  it('uses the default max_length of 20', async () => {
    const [sequence] = await generate(new FakeDecoder(4, constant([-1, 2, 1, -5])), [makeRequest([DEC, B])]);
    expect(sequence).toHaveLength(20);
  });

  it('caps at prompt length + maxNewTokens, which wins over maxLength', async () => {
    const decoder = new FakeDecoder(4, constant([-1, 2, 1, -5]));
    const [sequence] = await generate(decoder, [makeRequest([DEC, B], { maxNewTokens: 3, maxLength: 4 })]);
    expect(sequence).toEqual([DEC, B, A, A, A]);
  });

  it('still generates one token when the prompt already reaches maxLength (transformers only warns)', async () => {
    const decoder = new FakeDecoder(4, constant([-1, 2, 1, -5]));
    const [sequence] = await generate(decoder, [makeRequest([DEC, B, B], { maxLength: 2 })]);
    expect(sequence).toEqual([DEC, B, B, A]);
    expect(decoder.nextCalls).toHaveLength(0);
  });

  it('bans eos while the length is below minLength', async () => {
    // eos always has the best logit, a the second best. Lengths 1 and 2 < 3 ban eos; at length 3 eos wins.
    const [sequence] = await generate(new FakeDecoder(4, constant([3, 2, 1, -5])), [makeRequest([DEC], { minLength: 3 })]);
    expect(sequence).toEqual([DEC, A, A, EOS]);
  });

  it('bans eos until minNewTokens tokens were generated', async () => {
    const [sequence] = await generate(new FakeDecoder(4, constant([3, 2, 1, -5])), [makeRequest([DEC, B, B], { minNewTokens: 2 })]);
    expect(sequence).toEqual([DEC, B, B, A, A, EOS]);
  });

  it('applies the repetition penalty to positive logits (divide) of ids already in the sequence', async () => {
    // Logits a 2, b 1.5, p = 1.5. Step 1: nothing repeated → a. Step 2: a → 2/1.5 = 1.33 < 1.5 → b.
    // Step 3: a 1.33, b 1.5/1.5 = 1 → a. maxLength 4 stops there. Without the penalty it would be a a a.
    const logits = constant([-5, 2, 1.5, -5]);
    const [penalised] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC], { maxLength: 4, repetitionPenalty: 1.5 })]);
    expect(penalised).toEqual([DEC, A, B, A]);
    const [plain] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC], { maxLength: 4 })]);
    expect(plain).toEqual([DEC, A, A, A]);
  });

  it('applies the repetition penalty to negative logits (multiply), [DEC] and prompt included', async () => {
    // Logits a -1, b -1.2, [DEC] -1.6, p = 1.5. [DEC] is in the prompt: -2.4. Step 1: a (-1) is best.
    // Step 2: a → -1.5 < b -1.2 → b. Step 3: a -1.5, b → -1.8 → a.
    const logits = constant([-9, -1, -1.2, -1.6]);
    const [sequence] = await generate(new FakeDecoder(4, logits), [makeRequest([DEC], { maxLength: 4, repetitionPenalty: 1.5 })]);
    expect(sequence).toEqual([DEC, A, B, A]);
  });

  it('penalises prompt tokens: a prompt token with the best logit is avoided', async () => {
    // b has the best logit (2) but is in the prompt: 2/2 = 1 < a's 1.5.
    const [sequence] = await generate(new FakeDecoder(4, constant([-9, 1.5, 2, -9])), [makeRequest([DEC, B], { maxNewTokens: 1, repetitionPenalty: 2 })]);
    expect(sequence).toEqual([DEC, B, A]);
  });

  it('takes the first index on ties', async () => {
    const [sequence] = await generate(new FakeDecoder(4, constant([-1, 2, 2, -1])), [makeRequest([DEC], { maxNewTokens: 1 })]);
    expect(sequence).toEqual([DEC, A]);
  });

  it('rejects a prompt + maxNewTokens beyond the position limit', async () => {
    const request = makeRequest([DEC, A, B], { maxNewTokens: 510 });
    await expect(generate(new FakeDecoder(4, constant([0, 0, 0, 0])), [request])).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'Expected integer 1..509 for maxNewTokens with a 3-token prompt but received 510',
    });
  });
});
