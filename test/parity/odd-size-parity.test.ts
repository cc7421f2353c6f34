import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useConvertedVariant } from '../helpers/converted-variant.ts';
import { FIXTURES, maxAbsDiff, readFloat32, readImage, readInt64, readJson, withoutPadding } from '../helpers/fixtures.ts';

/**
 * A checkpoint of sizes the blip-tiny tests never see (test/fixtures/blip-odd/README.md): vision and text widths
 * differ, head dims 5/7/6/4, 26 and 50 image tokens, one text layer in VQA. Catches dimension mix-ups that a model
 * whose sizes are all 32 cannot.
 */
const ODD = join(FIXTURES, 'blip-odd');
const TOLERANCE = 1e-4;

describe.each(['safetensors', 'pytorch'] as const)('odd-size caption model, weights from %s', (weights) => {
  const dir = join(ODD, 'caption');
  const references = readJson(join(dir, 'references.json'));
  const refs = (name: string) => join(dir, 'refs', `${name}.bin`);
  const variant = useConvertedVariant(dir, weights);

  it('has the sizes of its config', () => {
    expect(variant.model.manifest.dims).toMatchObject({ imageTokens: 26, visionHidden: 20, textHidden: 14, textLayers: 3, textHeads: 2 });
  });

  it.each([0, 1, 2])('image embeddings of image %i', async (k) => {
    const embeds = await variant.model.encodeImages(readFloat32(refs(`pixel_values_${k}`)), 1);
    expect(maxAbsDiff(embeds, readFloat32(refs(`image_embeds_${k}`)))).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([
    ['decoder_input_ids_fixed', 'decoder_logits_0', 0],
    ['decoder_input_ids_fixed2', 'decoder_logits_2', 2],
  ] as const)('decoder logits for %s, fed one token at a time', async (inputs, logitsName, k) => {
    const ids = readInt64(refs(inputs));
    const expected = readFloat32(refs(logitsName));
    const vocab = references.vocab_size;
    const contexts = await variant.model.crossContexts(readFloat32(refs(`image_embeds_${k}`)), 1, variant.model.imageTokens, [variant.model.imageTokens]);
    const decoder = variant.model.createDecoder(contexts);
    let logits = await decoder.start([{ context: 0, tokens: [ids[0]] }]);
    for (let t = 0; t < ids.length; t++) {
      if (t > 0) logits = await decoder.next([0], [ids[t]]);
      expect(maxAbsDiff(logits, expected.subarray(t * vocab, (t + 1) * vocab))).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it.each((references.cases as any[]).map((c) => [c.name, c] as const))('generate %s from the image bytes', async (_name, c) => {
    const results = await variant.pipeline.caption(
      c.images.map((image: string) => ({ image: readImage(image), prompt: c.prompt ?? undefined, options: { maxNewTokens: c.generate_kwargs.max_new_tokens } })),
    );
    expect(results.map((r) => (r.ok ? r.value.sequence : r.error))).toEqual(c.output_ids.map((ids: number[]) => withoutPadding(ids)));
  });
});

describe('odd-size VQA model', () => {
  const dir = join(ODD, 'vqa');
  const references = readJson(join(dir, 'references.json'));
  const refs = (name: string) => join(dir, 'refs', `${name}.bin`);
  const variant = useConvertedVariant(dir);

  it('has the sizes of its config', () => {
    expect(variant.model.manifest.dims).toMatchObject({ imageTokens: 50, visionHidden: 12, textHidden: 12, textLayers: 1, textHeads: 3 });
  });

  it.each((references.cases as any[]).map((c) => [c.name, c] as const))('question states and answers of %s', async (_name, c) => {
    const k = c.image_indices;
    const imageEmbeds = new Float32Array(k.flatMap((i: number) => [...readFloat32(refs(`image_embeds_${i}`))]));
    const questions: number[][] = c.input_ids.map((ids: number[], row: number) => ids.filter((_, i) => c.attention_mask[row][i] === 1));
    const { states, paddedLength } = await variant.model.encodeQuestions(imageEmbeds, questions);
    const expected = readFloat32(refs(`${c.name}.question_embeds`));
    const hidden = variant.model.manifest.dims.textHidden;
    const width = c.input_ids[0].length;
    questions.forEach((q, row) => {
      const ours = states.subarray(row * paddedLength * hidden, (row * paddedLength + q.length) * hidden);
      expect(maxAbsDiff(ours, expected.subarray(row * width * hidden, (row * width + q.length) * hidden))).toBeLessThanOrEqual(TOLERANCE);
    });
    const results = await variant.pipeline.answer(
      c.images.map((image: string, i: number) => ({ image: readImage(image), question: c.questions[i], options: { maxNewTokens: c.generate_kwargs.max_new_tokens } })),
    );
    const singles = (references.cases as any[]).filter((s) => s.name.startsWith('single_'));
    // Each row equals its single-row answer (the padded batch included).
    const expectedIds = c.answer_ids.map((ids: number[], row: number) =>
      c.name.startsWith('single_') ? withoutPadding(ids) : withoutPadding(singles.find((s) => s.images[0] === c.images[row] && s.questions[0] === c.questions[row]).answer_ids[0]),
    );
    expect(results.map((r) => (r.ok ? r.value.sequence : r.error))).toEqual(expectedIds);
  });
});
