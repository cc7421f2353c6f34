import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnswerItem } from '../../src/models/blip/runtime/pipeline.ts';
import { useConvertedVariant } from '../helpers/converted-variant.ts';
import { VQA_CHECKPOINT, maxAbsDiff, readFloat32, readImage, readInt64, readJson, withoutPadding } from '../helpers/fixtures.ts';

/**
 * VQA parity with transformers 4.36 (test/fixtures/blip-tiny/vqa/references.json). Where transformers' batched
 * output differs from its single-row output (its answer decoder does not mask question padding), each row must give
 * its single-row answer: a result never depends on what it was batched with.
 */
const references = readJson(join(VQA_CHECKPOINT, 'references.json'));
const cases: any[] = references.cases;
const TOLERANCE = 1e-4;
const refs = (name: string) => join(VQA_CHECKPOINT, 'refs', `${name}.bin`);
const byName = (name: string) => cases.find((c) => c.name === name);

function itemsOf(c: any): AnswerItem[] {
  return c.images.map((image: string, i: number) => ({
    image: readImage(image),
    question: c.questions[i],
    options: { maxNewTokens: c.generate_kwargs.max_new_tokens, numBeams: c.generate_kwargs.num_beams },
  }));
}

describe.each(['safetensors', 'pytorch'] as const)('VQA parity, weights from %s', (weights) => {
  const variant = useConvertedVariant(VQA_CHECKPOINT, weights);

  it.each(['single_0', 'single_1', 'single_2', 'batch2_nopad', 'batch3_padded'])('question embeddings of %s (real positions)', async (name) => {
    const c = byName(name);
    const imageEmbeds = readFloat32(refs(`${name}.image_embeds`));
    const questions: number[][] = c.input_ids.map((ids: number[], row: number) => ids.filter((_, i) => c.attention_mask[row][i] === 1));
    const { states, paddedLength } = await variant.model.encodeQuestions(imageEmbeds, questions);
    const expected = readFloat32(refs(`${name}.question_embeds`));
    const hidden = variant.model.manifest.dims.textHidden;
    const width = c.input_ids[0].length;
    expect(paddedLength).toBe(Math.max(...questions.map((q) => q.length)));
    questions.forEach((q, row) => {
      const ours = states.subarray(row * paddedLength * hidden, (row * paddedLength + q.length) * hidden);
      const theirs = expected.subarray(row * width * hidden, (row * width + q.length) * hidden);
      expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('answer decoder logits for "[DEC] blue sky" over the question states', async () => {
    const states = readFloat32(refs('single_0.question_embeds'));
    const length = byName('single_0').input_ids[0].length;
    const contexts = await variant.model.crossContexts(states, 1, length, [length]);
    const ids = readInt64(refs('answer_decoder_input_ids_0'));
    const expected = readFloat32(refs('answer_decoder_logits_0'));
    const vocab = references.vocab_size;
    const decoder = variant.model.createDecoder(contexts);
    const logits = await decoder.start([{ context: 0, tokens: ids }]);
    expect(maxAbsDiff(logits, expected.subarray((ids.length - 1) * vocab))).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each(['single_0', 'single_1', 'single_2', 'beam3_single_0', 'batch2_nopad'])('generate %s: identical ids and text', async (name) => {
    const c = byName(name);
    const results = await variant.pipeline.answer(itemsOf(c));
    results.forEach((result, row) => {
      if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
      expect(result.value.sequence).toEqual(withoutPadding(c.answer_ids[row]));
      expect(result.value.text).toBe(c.answer_text[row]);
    });
  });

  it('a padded batch of questions gives every row its single-row answer', async () => {
    const batched = await variant.pipeline.answer(itemsOf(byName('batch3_padded')));
    const singles = ['single_0', 'single_1', 'single_2'].map(byName);
    batched.forEach((result, row) => {
      if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
      expect(result.value.sequence).toEqual(withoutPadding(singles[row].answer_ids[0]));
      expect(result.value.text).toBe(singles[row].answer_text[0]);
    });
  });

  it('a caption request on a VQA variant is refused with WRONG_TASK', async () => {
    await expect(variant.pipeline.caption([{ image: readImage('gradient_64x48.png') }])).rejects.toMatchObject({ code: 'WRONG_TASK' });
  });
});
