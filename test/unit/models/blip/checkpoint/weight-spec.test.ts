import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlipConfig } from '../../../../../src/models/blip/checkpoint/blip-config.ts';
import { parseBlipConfig, readBlipConfig } from '../../../../../src/models/blip/checkpoint/config-reader.ts';
import { openSafetensors } from '../../../../../src/checkpoint/safetensors.ts';
import type { WeightInfo, WeightSource } from '../../../../../src/checkpoint/weight-source.ts';
import {
  blipWeightSpec,
  DECODER_WORD_EMBEDDINGS,
  LM_HEAD_WEIGHT,
  resolveWeightName,
  validateWeights,
} from '../../../../../src/models/blip/checkpoint/weight-spec.ts';
import { ErrorCode } from '../../../../../src/errors.ts';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const TINY = join(FIXTURES, 'blip-tiny');

async function officialConfig(name: string): Promise<BlipConfig> {
  const file = join(FIXTURES, 'configs', `${name}.json`);
  return parseBlipConfig(JSON.parse(await readFile(file, 'utf8')), file);
}

/** The fixture's tensors with some removed, renamed or added (an input variant, not a fake of the code under test). */
function editedSource(
  base: WeightSource,
  edit: { drop?: string[]; add?: WeightInfo[]; reshape?: Record<string, number[]> },
): WeightSource {
  const infos = base
    .list()
    .filter((info) => !edit.drop?.includes(info.name))
    .map((info) => ({ ...info, shape: edit.reshape?.[info.name] ?? info.shape }))
    .concat(edit.add ?? []);
  return {
    file: base.file,
    list: () => infos,
    get: (name) => infos.find((info) => info.name === name),
    readFloat32: (name) => base.readFloat32(name),
    close: () => base.close(),
  };
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

describe('blipWeightSpec', () => {
  // Parameter counts of the four Salesforce checkpoints (blip-spec §1.1; they match the hub file sizes).
  const parameterCounts: Array<[string, number]> = [
    ['blip-image-captioning-base', 247_414_076],
    ['blip-image-captioning-large', 469_732_924],
    ['blip-vqa-base', 384_672_572],
    ['blip-vqa-capfilt-large', 384_672_572],
  ];
  for (const [name, count] of parameterCounts) {
    it(`${name}: the tensors read add up to ${count} parameters`, async () => {
      const spec = blipWeightSpec(await officialConfig(name));
      const read = spec.entries.filter((entry) => entry.presence !== 'ignored');
      expect(read.reduce((sum, entry) => sum + elementCount(entry.shape), 0)).toBe(count);
    });
  }

  it('captioning-large: decoder cross-attention keys/values read the 1024-wide image states', async () => {
    const spec = blipWeightSpec(await officialConfig('blip-image-captioning-large'));
    const shape = (name: string): number[] | undefined => spec.byName.get(name)?.shape;
    expect(shape('text_decoder.bert.encoder.layer.11.crossattention.self.key.weight')).toEqual([768, 1024]);
    expect(shape('text_decoder.bert.encoder.layer.11.crossattention.self.value.weight')).toEqual([768, 1024]);
    expect(shape('text_decoder.bert.encoder.layer.11.crossattention.self.query.weight')).toEqual([768, 768]);
    expect(shape('vision_model.encoder.layers.23.self_attn.qkv.weight')).toEqual([3072, 1024]);
    expect(shape('vision_model.embeddings.position_embedding')).toEqual([1, 577, 1024]);
    expect(shape('vision_model.embeddings.patch_embedding.weight')).toEqual([1024, 3, 16, 16]);
    expect(shape('vision_model.encoder.layers.24.self_attn.qkv.weight')).toBeUndefined();
    expect(spec.byName.has('text_encoder.embeddings.word_embeddings.weight')).toBe(false);
  });

  it('VQA: the question encoder reads the image width, the answer decoder reads the question (text) width', async () => {
    const base = await officialConfig('blip-vqa-base');
    // A hypothetical ViT-L VQA model makes the two widths differ.
    const config: BlipConfig = { ...base, vision: { ...base.vision, hiddenSize: 1024 }, text: { ...base.text, encoderHiddenSize: 1024 } };
    const spec = blipWeightSpec(config);
    expect(spec.byName.get('text_encoder.encoder.layer.0.crossattention.self.key.weight')?.shape).toEqual([768, 1024]);
    expect(spec.byName.get('text_decoder.bert.encoder.layer.0.crossattention.self.key.weight')?.shape).toEqual([768, 768]);
    expect(spec.byName.has('text_encoder.cls.predictions.bias')).toBe(false);
  });

  it('marks position_ids and the duplicate LM bias as ignored, and ties the LM head to the word embeddings', async () => {
    const spec = blipWeightSpec(await officialConfig('blip-vqa-base'));
    expect(spec.byName.get('text_decoder.bert.embeddings.position_ids')).toMatchObject({ presence: 'ignored', shape: [1, 512] });
    expect(spec.byName.get('text_encoder.embeddings.position_ids')).toMatchObject({ presence: 'ignored' });
    expect(spec.byName.get('text_decoder.cls.predictions.decoder.bias')).toMatchObject({ presence: 'ignored', shape: [30524] });
    expect(spec.byName.get('text_decoder.cls.predictions.bias')).toMatchObject({ presence: 'required', shape: [30524] });
    expect(spec.byName.get(LM_HEAD_WEIGHT)).toMatchObject({ presence: 'tied', fallback: DECODER_WORD_EMBEDDINGS, shape: [30524, 768] });
  });

  for (const task of ['caption', 'vqa'] as const) {
    it(`${task}: names and shapes are exactly those save_pretrained wrote for the tiny fixture`, async () => {
      const spec = blipWeightSpec(await readBlipConfig(join(TINY, task)));
      const source = await openSafetensors(join(TINY, task, 'model.safetensors'));
      try {
        const stored = new Map(source.list().map((info) => [info.name, info.shape]));
        const read = spec.entries.filter((entry) => entry.presence !== 'ignored');
        expect(new Map(read.map((entry) => [entry.name, entry.shape]))).toEqual(stored);
      } finally {
        await source.close();
      }
    });
  }
});

describe('validateWeights', () => {
  const open = async (task: 'caption' | 'vqa'): Promise<{ source: WeightSource; config: BlipConfig }> => ({
    source: await openSafetensors(join(TINY, task, 'model.safetensors')),
    config: await readBlipConfig(join(TINY, task)),
  });

  it('accepts both fixtures without warnings', async () => {
    for (const task of ['caption', 'vqa'] as const) {
      const { source, config } = await open(task);
      expect(validateWeights(source, config)).toEqual({ warnings: [] });
      await source.close();
    }
  });

  it('throws on a wrong shape with the weight, its shape and the expected one', async () => {
    const { source, config } = await open('caption');
    const larger: BlipConfig = { ...config, text: { ...config.text, vocabSize: 301 } };
    expect(() => validateWeights(source, larger)).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_CHECKPOINT,
        message: `${source.file}: weight 'text_decoder.bert.embeddings.word_embeddings.weight' has shape [300,32] but the config expects [301,32]`,
      }),
    );
    await source.close();
  });

  it('throws on a missing required weight', async () => {
    const { source, config } = await open('vqa');
    const edited = editedSource(source, { drop: ['text_encoder.encoder.layer.1.crossattention.self.value.bias'] });
    expect(() => validateWeights(edited, config)).toThrow(
      `${source.file}: Expected weight 'text_encoder.encoder.layer.1.crossattention.self.value.bias' with shape [32] ` +
        'for BlipForQuestionAnswering but the checkpoint has no such tensor',
    );
    await source.close();
  });

  it('throws on a caption checkpoint given a VQA config', async () => {
    const { source } = await open('caption');
    const vqaConfig = await readBlipConfig(join(TINY, 'vqa'));
    expect(() => validateWeights(source, vqaConfig)).toThrow(/Expected weight 'text_encoder\.embeddings\.word_embeddings\.weight'/);
    await source.close();
  });

  it('throws on integer weights', async () => {
    const { source, config } = await open('caption');
    const edited = editedSource(source, { drop: ['vision_model.post_layernorm.bias'], add: [{ name: 'vision_model.post_layernorm.bias', dtype: 'I64', shape: [32] }] });
    expect(() => validateWeights(edited, config)).toThrow(/floating-point dtype for weight 'vision_model\.post_layernorm\.bias' but received I64/);
    await source.close();
  });

  it('warns about tensors the architecture does not use, and ignores position_ids and the duplicate bias', async () => {
    const { source, config } = await open('caption');
    const edited = editedSource(source, {
      add: [
        { name: 'text_decoder.bert.embeddings.position_ids', dtype: 'I64', shape: [1, 64] },
        { name: 'text_decoder.cls.predictions.decoder.bias', dtype: 'F32', shape: [300] },
        { name: 'text_encoder.embeddings.word_embeddings.weight', dtype: 'F32', shape: [300, 32] },
        { name: 'itm_head.weight', dtype: 'F32', shape: [2, 32] },
      ],
    });
    expect(validateWeights(edited, config).warnings).toEqual([
      "2 tensor(s) are not used by BlipForConditionalGeneration and will be ignored: 'text_encoder.embeddings.word_embeddings.weight', 'itm_head.weight'",
    ]);
    await source.close();
  });

  it('falls back to the decoder word embeddings when the LM head matrix is absent', async () => {
    const { source, config } = await open('caption');
    const edited = editedSource(source, { drop: [LM_HEAD_WEIGHT] });
    const { warnings } = validateWeights(edited, config);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/'text_decoder\.cls\.predictions\.decoder\.weight' is absent; the LM head uses 'text_decoder\.bert\.embeddings\.word_embeddings\.weight'/);
    const spec = blipWeightSpec(config);
    expect(resolveWeightName(spec, edited, LM_HEAD_WEIGHT)).toBe(DECODER_WORD_EMBEDDINGS);
    // When present, the stored matrix wins (BLIP in transformers does not tie them; the fixture's two differ).
    expect(resolveWeightName(spec, source, LM_HEAD_WEIGHT)).toBe(LM_HEAD_WEIGHT);
    const withoutBoth = editedSource(source, { drop: [LM_HEAD_WEIGHT, DECODER_WORD_EMBEDDINGS] });
    expect(() => resolveWeightName(spec, withoutBoth, LM_HEAD_WEIGHT)).toThrow(
      `Expected a weight named '${LM_HEAD_WEIGHT}' or its stand-in '${DECODER_WORD_EMBEDDINGS}' but the checkpoint has neither`,
    );
    expect(() => resolveWeightName(spec, source, 'vision_model.nothing')).toThrow(/Expected a weight named 'vision_model\.nothing'/);
    await source.close();
  });

  it('rejects a wrongly shaped LM head matrix even though it is optional', async () => {
    const { source, config } = await open('caption');
    const edited = editedSource(source, { reshape: { [LM_HEAD_WEIGHT]: [32, 300] } });
    expect(() => validateWeights(edited, config)).toThrow(/has shape \[32,300\] but the config expects \[300,32\]/);
    await source.close();
  });
});
