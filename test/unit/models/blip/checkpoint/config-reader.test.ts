import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlipConfig } from '../../../../../src/models/blip/checkpoint/blip-config.ts';
import { parseBlipConfig, readBlipConfig } from '../../../../../src/models/blip/checkpoint/config-reader.ts';
import { ErrorCode, ServiceError } from '../../../../../src/errors.ts';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const TINY = join(FIXTURES, 'blip-tiny');
const CONFIGS = join(FIXTURES, 'configs');

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

/** Every modelled field next to the key transformers' `BlipConfig.to_dict()` uses for it. */
function modelledFields(config: BlipConfig): Record<string, unknown> {
  return {
    architectures: [config.architecture],
    'vision_config.hidden_size': config.vision.hiddenSize,
    'vision_config.intermediate_size': config.vision.intermediateSize,
    'vision_config.num_hidden_layers': config.vision.numHiddenLayers,
    'vision_config.num_attention_heads': config.vision.numAttentionHeads,
    'vision_config.image_size': config.vision.imageSize,
    'vision_config.patch_size': config.vision.patchSize,
    'vision_config.hidden_act': config.vision.hiddenAct,
    'vision_config.layer_norm_eps': config.vision.layerNormEps,
    'text_config.vocab_size': config.text.vocabSize,
    'text_config.hidden_size': config.text.hiddenSize,
    'text_config.encoder_hidden_size': config.text.encoderHiddenSize,
    'text_config.intermediate_size': config.text.intermediateSize,
    'text_config.num_hidden_layers': config.text.numHiddenLayers,
    'text_config.num_attention_heads': config.text.numAttentionHeads,
    'text_config.max_position_embeddings': config.text.maxPositionEmbeddings,
    'text_config.hidden_act': config.text.hiddenAct,
    'text_config.layer_norm_eps': config.text.layerNormEps,
    'text_config.bos_token_id': config.text.bosTokenId,
    'text_config.eos_token_id': config.text.eosTokenId,
    'text_config.pad_token_id': config.text.padTokenId,
    'text_config.sep_token_id': config.text.sepTokenId,
    'text_config.max_length': config.generation.maxLength,
    'text_config.min_length': config.generation.minLength,
    'text_config.num_beams': config.generation.numBeams,
    'text_config.length_penalty': config.generation.lengthPenalty,
    'text_config.repetition_penalty': config.generation.repetitionPenalty,
    'text_config.early_stopping': config.generation.earlyStopping,
  };
}

function toDictFields(toDict: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.map((key) => {
      const [section, field] = key.includes('.') ? key.split('.') : [undefined, key];
      const source = section === undefined ? toDict : (toDict[section] as Record<string, unknown>);
      return [key, source[field!]];
    }),
  );
}

function thrown(action: () => unknown): ServiceError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe(ErrorCode.INVALID_CHECKPOINT);
    return error as ServiceError;
  }
  throw new Error('expected an error');
}

describe('readBlipConfig on the tiny fixtures', () => {
  for (const task of ['caption', 'vqa'] as const) {
    it(`${task}: every modelled field equals transformers' fully-defaulted to_dict()`, async () => {
      const config = await readBlipConfig(join(TINY, task));
      const fields = modelledFields(config);
      const expected = toDictFields(await readJson(join(TINY, task, 'refs/config_to_dict.json')), Object.keys(fields));
      expect(fields).toEqual(expected);
      expect(config.task).toBe(task);
      expect(config.vision.numChannels).toBe(3);
      // The tiny text model has 4 heads set explicitly: nothing suspicious to report.
      expect(config.warnings).toEqual([]);
    });
  }
});

describe('parseBlipConfig on the official Salesforce configs', () => {
  const parse = async (name: string): Promise<BlipConfig> => {
    const file = join(CONFIGS, `${name}.json`);
    return parseBlipConfig(await readJson(file), file);
  };

  it('captioning-large: ViT-L vision and a 1024-wide cross-attention input', async () => {
    const config = await parse('blip-image-captioning-large');
    expect(config.task).toBe('caption');
    expect(config.architecture).toBe('BlipForConditionalGeneration');
    expect(config.vision).toMatchObject({ hiddenSize: 1024, numHiddenLayers: 24, numAttentionHeads: 16, intermediateSize: 4096 });
    expect(config.vision).toMatchObject({ imageSize: 384, patchSize: 16, layerNormEps: 1e-5 });
    expect(config.text).toMatchObject({ hiddenSize: 768, encoderHiddenSize: 1024, numAttentionHeads: 12, numHiddenLayers: 12 });
    expect(config.warnings).toEqual([]);
  });

  for (const name of ['blip-image-captioning-base', 'blip-vqa-base', 'blip-vqa-capfilt-large']) {
    it(`${name}: ViT-B vision, 768-wide text with 12 heads`, async () => {
      const config = await parse(name);
      expect(config.task).toBe(name.includes('vqa') ? 'vqa' : 'caption');
      expect(config.vision).toMatchObject({ hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072 });
      expect(config.text).toMatchObject({
        vocabSize: 30524,
        hiddenSize: 768,
        encoderHiddenSize: 768,
        numAttentionHeads: 12,
        maxPositionEmbeddings: 512,
        layerNormEps: 1e-12,
        bosTokenId: 30522,
        sepTokenId: 102,
        padTokenId: 0,
        eosTokenId: 2,
      });
      expect(config.generation).toEqual({
        maxLength: 20,
        minLength: 0,
        numBeams: 1,
        lengthPenalty: 1,
        repetitionPenalty: 1,
        earlyStopping: false,
      });
      expect(config.warnings).toEqual([]);
    });
  }
});

describe('parseBlipConfig defaulting', () => {
  const minimal = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    model_type: 'blip',
    architectures: ['BlipForConditionalGeneration'],
    ...extra,
  });

  it("applies BlipVisionConfig/BlipTextConfig class defaults (spec §1.8) when the sections are absent", () => {
    const config = parseBlipConfig(minimal(), 'config.json');
    expect(config.vision).toEqual({
      hiddenSize: 768,
      intermediateSize: 3072,
      numHiddenLayers: 12,
      numAttentionHeads: 12,
      numChannels: 3,
      imageSize: 384,
      patchSize: 16,
      hiddenAct: 'gelu',
      layerNormEps: 1e-5,
    });
    expect(config.text).toEqual({
      vocabSize: 30524,
      hiddenSize: 768,
      encoderHiddenSize: 768,
      intermediateSize: 3072,
      numHiddenLayers: 12,
      numAttentionHeads: 8,
      maxPositionEmbeddings: 512,
      hiddenAct: 'gelu',
      layerNormEps: 1e-12,
      bosTokenId: 30522,
      eosTokenId: 2,
      padTokenId: 0,
      sepTokenId: 102,
    });
  });

  it('keeps the default of 8 text heads but warns that the official checkpoints need 12', () => {
    const absent = parseBlipConfig(minimal({ text_config: null }), 'config.json');
    expect(absent.text.numAttentionHeads).toBe(8);
    expect(absent.warnings).toHaveLength(1);
    expect(absent.warnings[0]).toMatch(/num_attention_heads is missing.*default of 8.*need 12/);

    const explicit = parseBlipConfig(minimal({ text_config: { num_attention_heads: 8 } }), 'config.json');
    expect(explicit.text.numAttentionHeads).toBe(8);
    expect(explicit.warnings).toHaveLength(1);
    expect(explicit.warnings[0]).toMatch(/num_attention_heads is 8 on a 768-wide text model/);

    // 8 heads on a model that is not 768 wide is nothing like the stale hub configs: no warning.
    const narrow = parseBlipConfig(
      minimal({ text_config: { num_attention_heads: 8, hidden_size: 256 } }),
      'config.json',
    );
    expect(narrow.warnings).toEqual([]);
  });

  it('always takes encoder_hidden_size from the vision hidden size, warning when the file disagrees', () => {
    const config = parseBlipConfig(
      minimal({
        vision_config: { hidden_size: 1024, num_attention_heads: 16 },
        text_config: { num_attention_heads: 12, encoder_hidden_size: 768 },
      }),
      'config.json',
    );
    expect(config.text.encoderHiddenSize).toBe(1024);
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(/encoder_hidden_size is 768 .* using 1024/);
  });

  it('reads generation defaults from text_config (PretrainedConfig keys)', () => {
    const config = parseBlipConfig(
      minimal({
        text_config: {
          num_attention_heads: 12,
          max_length: 30,
          min_length: 5,
          num_beams: 3,
          length_penalty: 0.5,
          repetition_penalty: 1.2,
          early_stopping: true,
        },
        // Top-level generation keys belong to the composite model; the text decoder never reads them.
        max_length: 99,
      }),
      'config.json',
    );
    expect(config.generation).toEqual({
      maxLength: 30,
      minLength: 5,
      numBeams: 3,
      lengthPenalty: 0.5,
      repetitionPenalty: 1.2,
      earlyStopping: true,
    });
  });

  it('maps BlipForQuestionAnswering to the vqa task', () => {
    const config = parseBlipConfig(minimal({ architectures: ['BlipForQuestionAnswering'] }), 'config.json');
    expect(config.architecture).toBe('BlipForQuestionAnswering');
    expect(config.task).toBe('vqa');
  });
});

describe('parseBlipConfig rejects what the runtime cannot run', () => {
  const base = (): Record<string, unknown> => ({
    model_type: 'blip',
    architectures: ['BlipForConditionalGeneration'],
    text_config: { num_attention_heads: 12 },
    vision_config: {},
  });
  const withText = (text: Record<string, unknown>): Record<string, unknown> => ({
    ...base(),
    text_config: { num_attention_heads: 12, ...text },
  });
  const withVision = (vision: Record<string, unknown>): Record<string, unknown> => ({ ...base(), vision_config: vision });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['another model_type', { ...base(), model_type: 'blip-2' }, /Expected "blip" for model_type but received "blip-2"/],
    ['a missing model_type', { ...base(), model_type: undefined }, /for model_type but received undefined/],
    ['another architecture', { ...base(), architectures: ['BlipModel'] }, /for architectures but received \["BlipModel"\]/],
    ['missing architectures', { ...base(), architectures: undefined }, /for architectures but received undefined/],
    [
      'two architectures',
      { ...base(), architectures: ['BlipForConditionalGeneration', 'BlipForQuestionAnswering'] },
      /for architectures but received \["BlipForConditionalGeneration","BlipForQuestionAnswering"\]/,
    ],
    ['a non-gelu text activation', withText({ hidden_act: 'gelu_new' }), /Expected "gelu" for text_config.hidden_act but received "gelu_new"/],
    ['a non-gelu vision activation', withVision({ hidden_act: 'relu' }), /Expected "gelu" for vision_config.hidden_act but received "relu"/],
    ['a string dimension', withVision({ hidden_size: '768' }), /Expected a positive integer for vision_config.hidden_size but received "768"/],
    ['a zero dimension', withText({ num_hidden_layers: 0 }), /Expected a positive integer for text_config.num_hidden_layers but received 0/],
    ['a fractional dimension', withText({ intermediate_size: 3072.5 }), /for text_config.intermediate_size but received 3072.5/],
    ['a negative dimension', withVision({ patch_size: -16 }), /for vision_config.patch_size but received -16/],
    ['a null dimension', withText({ vocab_size: null }), /for text_config.vocab_size but received null/],
    [
      'text hidden not divisible by heads',
      withText({ hidden_size: 770 }),
      /Expected a multiple of text_config.num_attention_heads \(12\) for text_config.hidden_size but received 770/,
    ],
    [
      'vision hidden not divisible by heads',
      withVision({ hidden_size: 1000, num_attention_heads: 16 }),
      /for vision_config.hidden_size but received 1000/,
    ],
    ['a token id outside the vocabulary', withText({ bos_token_id: 30524 }), /text_config.bos_token_id but received 30524/],
    ['a foreign text model_type', withText({ model_type: 'bert' }), /Expected "blip_text_model" for text_config.model_type but received "bert"/],
    ['a non-object vision_config', { ...base(), vision_config: [1] }, /Expected a JSON object for vision_config but received \[1\]/],
    ['is_decoder false', withText({ is_decoder: false }), /for text_config.is_decoder but received false/],
    ['a non-boolean early_stopping', withText({ early_stopping: 'never' }), /for text_config.early_stopping but received "never"/],
  ];
  for (const [label, json, message] of cases) {
    it(`rejects ${label}, naming the field and the value`, () => {
      const error = thrown(() => parseBlipConfig(json, '/models/x/config.json'));
      expect(error.message).toMatch(/^\/models\/x\/config\.json: /);
      expect(error.message).toMatch(message);
    });
  }

  it('rejects a config that is not an object', () => {
    expect(thrown(() => parseBlipConfig([], 'c.json')).message).toMatch(/Expected a JSON object for the config but received \[\]/);
  });
});

describe('readBlipConfig file errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blip-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names config.json when it is missing', async () => {
    await expect(readBlipConfig(dir)).rejects.toThrow(new RegExp(`^${join(dir, 'config.json')}: cannot read the model config`));
  });

  it('names config.json when it is not JSON', async () => {
    const sub = await mkdtemp(join(dir, 'bad-'));
    await writeFile(join(sub, 'config.json'), '{"model_type": "blip",');
    await expect(readBlipConfig(sub)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CHECKPOINT,
      message: expect.stringMatching(/config\.json: is not valid JSON/),
    });
  });
});
