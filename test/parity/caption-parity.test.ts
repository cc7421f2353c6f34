import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CaptionItem } from '../../src/models/blip/runtime/pipeline.ts';
import { useConvertedVariant } from '../helpers/converted-variant.ts';
import {
  CAPTION_CHECKPOINT,
  IMAGE_NAMES,
  IMAGES,
  maxAbsDiff,
  readFloat32,
  readImage,
  readInt64,
  readJson,
  withoutPadding,
} from '../helpers/fixtures.ts';

/**
 * Captioning parity with transformers 4.36 (test/fixtures/blip-tiny/caption/references.json): tensors within 1e-4,
 * generated ids identical, for weights read from model.safetensors and from pytorch_model.bin.
 */
const references = readJson(join(CAPTION_CHECKPOINT, 'references.json'));
const cases: any[] = references.cases;
const TOLERANCE = 1e-4;
const byName = (name: string) => cases.find((c) => c.name === name);

function itemsOf(c: any): CaptionItem[] {
  const prompts: (string | null)[] = Array.isArray(c.prompt) ? c.prompt : c.images.map(() => c.prompt);
  return c.images.map((image: string, i: number) => ({
    image: readImage(image),
    prompt: prompts[i] ?? undefined,
    options: { maxNewTokens: c.generate_kwargs.max_new_tokens, numBeams: c.generate_kwargs.num_beams },
  }));
}

describe.each(['safetensors', 'pytorch'] as const)('caption parity, weights from %s', (weights) => {
  const variant = useConvertedVariant(CAPTION_CHECKPOINT, weights);

  it.each(IMAGE_NAMES.map((name, k) => [name, k] as const))('image embeddings of %s', async (_name, k) => {
    const pixels = readFloat32(join(IMAGES, 'ref', `pixel_values_${k}.bin`));
    const embeds = await variant.model.encodeImages(pixels, 1);
    expect(maxAbsDiff(embeds, readFloat32(join(CAPTION_CHECKPOINT, 'refs', `image_embeds_${k}.bin`)))).toBeLessThanOrEqual(TOLERANCE);
  });

  it('decoder logits, every position of "[DEC] a picture of the" fed one token at a time', async () => {
    const ids = readInt64(join(CAPTION_CHECKPOINT, 'refs/decoder_input_ids_fixed.bin'));
    const expected = readFloat32(join(CAPTION_CHECKPOINT, 'refs/decoder_logits_0.bin'));
    const embeds = readFloat32(join(CAPTION_CHECKPOINT, 'refs/image_embeds_0.bin'));
    const contexts = await variant.model.crossContexts(embeds, 1, variant.model.imageTokens, [variant.model.imageTokens]);
    const vocab = references.vocab_size;
    const decoder = variant.model.createDecoder(contexts);
    let logits = await decoder.start([{ context: 0, tokens: [ids[0]] }]);
    expect(maxAbsDiff(logits, expected.subarray(0, vocab))).toBeLessThanOrEqual(TOLERANCE);
    for (let t = 1; t < ids.length; t++) {
      logits = await decoder.next([0], [ids[t]]);
      expect(maxAbsDiff(logits, expected.subarray(t * vocab, (t + 1) * vocab))).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('decoder logits of a two-row batch whose prompts differ in length (left padding is masked)', async () => {
    const ids = readInt64(join(CAPTION_CHECKPOINT, 'refs/decoder_input_ids_batch2.bin'));
    const expected = readFloat32(join(CAPTION_CHECKPOINT, 'refs/decoder_logits_batch2.bin'));
    const embeds = new Float32Array([...readFloat32(join(CAPTION_CHECKPOINT, 'refs/image_embeds_3.bin')), ...readFloat32(join(CAPTION_CHECKPOINT, 'refs/image_embeds_4.bin'))]);
    const contexts = await variant.model.crossContexts(embeds, 2, variant.model.imageTokens, [variant.model.imageTokens, variant.model.imageTokens]);
    const vocab = references.vocab_size;
    const decoder = variant.model.createDecoder(contexts);
    // Row 1 starts with only 3 of its 5 tokens, then catches up one token at a time.
    const logits = await decoder.start([{ context: 0, tokens: ids.slice(0, 5) }, { context: 1, tokens: ids.slice(5, 8) }]);
    expect(maxAbsDiff(logits.subarray(0, vocab), expected.subarray(4 * vocab, 5 * vocab))).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(logits.subarray(vocab), expected.subarray(7 * vocab, 8 * vocab))).toBeLessThanOrEqual(TOLERANCE);
    const next = await decoder.next([1], [ids[8]]);
    expect(maxAbsDiff(next, expected.subarray(8 * vocab, 9 * vocab))).toBeLessThanOrEqual(TOLERANCE);
  });

  const exactCases = cases.filter((c) => !c.name.startsWith('quirk_'));
  it.each(exactCases.map((c) => [c.name, c] as const))('generate %s: identical ids and text', async (_name, c) => {
    const results = await variant.pipeline.caption(itemsOf(c));
    results.forEach((result, row) => {
      if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
      expect(result.value.sequence).toEqual(withoutPadding(c.output_ids[row]));
      expect(result.value.text).toBe(c.output_text[row]);
    });
  });

  it('mixed-length prompts in one batch give each row its single-row result (not the transformers quirk)', async () => {
    const quirk = byName('quirk_batch2_greedy_mixed_prompts');
    const batched = await variant.pipeline.caption(itemsOf(quirk));
    const alone = await Promise.all(itemsOf(quirk).map(async (item) => (await variant.pipeline.caption([item]))[0]));
    expect(batched).toHaveLength(2);
    batched.forEach((result, row) => {
      expect(result.ok && alone[row].ok).toBe(true);
      if (result.ok && alone[row].ok) expect(result.value.sequence).toEqual(alone[row].value.sequence);
    });
    // Row 0 alone is the greedy_prompt_0 reference case.
    const single = byName('greedy_prompt_0');
    expect(batched[0].ok && batched[0].value.sequence).toEqual(withoutPadding(single.output_ids[0]));
  });

  it('a batch of every image, greedy and beam rows mixed, equals each row alone', async () => {
    const items: CaptionItem[] = IMAGE_NAMES.flatMap((name, k) => [
      { image: readImage(name), options: { maxNewTokens: 12 } },
      { image: readImage(name), prompt: k % 2 === 0 ? 'a picture of' : undefined, options: { maxNewTokens: 10, numBeams: 3 } },
    ]);
    const batched = await variant.pipeline.caption(items);
    for (let i = 0; i < items.length; i++) {
      const [alone] = await variant.pipeline.caption([items[i]]);
      expect(batched[i]).toMatchObject({ ok: true });
      expect(alone.ok && batched[i].ok && (batched[i] as any).value.sequence).toEqual(alone.ok && alone.value.sequence);
    }
  });
});
