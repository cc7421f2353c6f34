/**
 * Reads a BLIP `config.json` the way transformers 4.36 builds `BlipConfig` from it: keys that `save_pretrained`
 * omitted take the class defaults of BlipTextConfig / BlipVisionConfig (blip-spec §1.8), and the text model's
 * `encoder_hidden_size` is overwritten with the vision hidden size. Anything this runtime cannot run is rejected
 * with the field and the value received.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointError } from '../../../errors.ts';
import type {
  BlipArchitecture,
  BlipConfig,
  BlipGenerationDefaults,
  BlipTask,
  BlipTextConfig,
  BlipVisionConfig,
} from './blip-config.ts';
import { describeValue } from '../../../checkpoint/describe-value.ts';

export const CONFIG_FILE = 'config.json';

const TASKS: Readonly<Record<BlipArchitecture, BlipTask>> = {
  BlipForConditionalGeneration: 'caption',
  BlipForQuestionAnswering: 'vqa',
};

/** BlipTextConfig.__init__ defaults (transformers 4.36). Note the 8 heads: BERT-base BLIP checkpoints need 12. */
const TEXT_DEFAULTS = {
  vocab_size: 30524,
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 512,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  bos_token_id: 30522,
  eos_token_id: 2,
  pad_token_id: 0,
  sep_token_id: 102,
  is_decoder: true,
} as const;

/** BlipVisionConfig.__init__ defaults (transformers 4.36). */
const VISION_DEFAULTS = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  image_size: 384,
  patch_size: 16,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
} as const;

/** PretrainedConfig's generation keys; the text decoder's GenerationConfig is built from them. */
const GENERATION_DEFAULTS = {
  max_length: 20,
  min_length: 0,
  num_beams: 1,
  length_penalty: 1.0,
  repetition_penalty: 1.0,
  early_stopping: false,
} as const;

/** BLIP's patch embedding is a Conv2d with 3 input channels hard-coded; no config key changes it. */
const IMAGE_CHANNELS = 3;

/** Reads and parses `<dir>/config.json`. */
export async function readBlipConfig(dir: string): Promise<BlipConfig> {
  const file = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw checkpointError(file, `cannot read the model config (${(error as Error).message})`, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw checkpointError(file, `is not valid JSON (${(error as Error).message})`, error);
  }
  return parseBlipConfig(json, file);
}

/** Applies transformers' defaulting to a parsed `config.json`; `file` is only used in messages. */
export function parseBlipConfig(json: unknown, file: string): BlipConfig {
  const root = new ConfigFields(objectAt(json, 'the config', file), '', file);
  const warnings: string[] = [];

  const modelType = root.raw('model_type');
  if (modelType !== 'blip') root.fail('model_type', '"blip"', modelType);
  const architecture = parseArchitecture(root);

  const visionFields = new ConfigFields(sectionAt(root, 'vision_config'), 'vision_config.', file);
  const textFields = new ConfigFields(sectionAt(root, 'text_config'), 'text_config.', file);
  visionFields.expectModelType('blip_vision_model');
  textFields.expectModelType('blip_text_model');

  const vision = parseVision(visionFields, warnings);
  const text = parseText(textFields, vision.hiddenSize, warnings);
  const generation = parseGeneration(textFields);
  return { architecture, task: TASKS[architecture], vision, text, generation, warnings };
}

function parseArchitecture(root: ConfigFields): BlipArchitecture {
  const value = root.raw('architectures');
  const expected = '["BlipForConditionalGeneration"] or ["BlipForQuestionAnswering"]';
  if (!Array.isArray(value) || value.length !== 1 || typeof value[0] !== 'string' || !Object.hasOwn(TASKS, value[0])) {
    root.fail('architectures', expected, value);
  }
  return value[0] as BlipArchitecture;
}

function parseVision(fields: ConfigFields, warnings: string[]): BlipVisionConfig {
  const vision: BlipVisionConfig = {
    hiddenSize: fields.positiveInt('hidden_size', VISION_DEFAULTS.hidden_size),
    intermediateSize: fields.positiveInt('intermediate_size', VISION_DEFAULTS.intermediate_size),
    numHiddenLayers: fields.positiveInt('num_hidden_layers', VISION_DEFAULTS.num_hidden_layers),
    numAttentionHeads: fields.positiveInt('num_attention_heads', VISION_DEFAULTS.num_attention_heads),
    numChannels: IMAGE_CHANNELS,
    imageSize: fields.positiveInt('image_size', VISION_DEFAULTS.image_size),
    patchSize: fields.positiveInt('patch_size', VISION_DEFAULTS.patch_size),
    hiddenAct: fields.gelu('hidden_act'),
    layerNormEps: fields.positiveNumber('layer_norm_eps', VISION_DEFAULTS.layer_norm_eps),
  };
  fields.divisible('hidden_size', vision.hiddenSize, 'num_attention_heads', vision.numAttentionHeads);
  if (vision.patchSize > vision.imageSize) {
    fields.fail('patch_size', `a patch size no larger than image_size ${vision.imageSize}`, vision.patchSize);
  }
  const channels = fields.raw('num_channels');
  if (channels !== undefined && channels !== IMAGE_CHANNELS) {
    warnings.push(
      `vision_config.num_channels is ${describeValue(channels)} but BLIP's patch embedding always reads ` +
        `${IMAGE_CHANNELS} channels (transformers ignores this key); using ${IMAGE_CHANNELS}`,
    );
  }
  return vision;
}

function parseText(fields: ConfigFields, visionHiddenSize: number, warnings: string[]): BlipTextConfig {
  const vocabSize = fields.positiveInt('vocab_size', TEXT_DEFAULTS.vocab_size);
  const text: BlipTextConfig = {
    vocabSize,
    hiddenSize: fields.positiveInt('hidden_size', TEXT_DEFAULTS.hidden_size),
    // BlipConfig.__init__ overwrites whatever the file says with the vision width.
    encoderHiddenSize: visionHiddenSize,
    intermediateSize: fields.positiveInt('intermediate_size', TEXT_DEFAULTS.intermediate_size),
    numHiddenLayers: fields.positiveInt('num_hidden_layers', TEXT_DEFAULTS.num_hidden_layers),
    numAttentionHeads: fields.positiveInt('num_attention_heads', TEXT_DEFAULTS.num_attention_heads),
    maxPositionEmbeddings: fields.positiveInt('max_position_embeddings', TEXT_DEFAULTS.max_position_embeddings),
    hiddenAct: fields.gelu('hidden_act'),
    layerNormEps: fields.positiveNumber('layer_norm_eps', TEXT_DEFAULTS.layer_norm_eps),
    bosTokenId: fields.tokenId('bos_token_id', TEXT_DEFAULTS.bos_token_id, vocabSize),
    eosTokenId: fields.tokenId('eos_token_id', TEXT_DEFAULTS.eos_token_id, vocabSize),
    padTokenId: fields.tokenId('pad_token_id', TEXT_DEFAULTS.pad_token_id, vocabSize),
    sepTokenId: fields.tokenId('sep_token_id', TEXT_DEFAULTS.sep_token_id, vocabSize),
  };
  fields.divisible('hidden_size', text.hiddenSize, 'num_attention_heads', text.numAttentionHeads);
  // Without cross-attention blocks (is_decoder false) the text stacks could not read the image at all.
  const isDecoder = fields.boolean('is_decoder', TEXT_DEFAULTS.is_decoder);
  if (!isDecoder) fields.fail('is_decoder', 'true (BLIP text layers cross-attend to the image)', false);

  const fileEncoderWidth = fields.raw('encoder_hidden_size');
  if (fileEncoderWidth !== undefined && fileEncoderWidth !== visionHiddenSize) {
    warnings.push(
      `text_config.encoder_hidden_size is ${describeValue(fileEncoderWidth)} but transformers replaces it with ` +
        `vision_config.hidden_size ${visionHiddenSize}; using ${visionHiddenSize}`,
    );
  }
  if (fields.raw('num_attention_heads') === undefined) {
    warnings.push(
      `text_config.num_attention_heads is missing, so transformers' default of ${TEXT_DEFAULTS.num_attention_heads} ` +
        'applies; the official BLIP checkpoints need 12 (hub configs said 8 until 2023-04): check the config',
    );
  } else if (text.numAttentionHeads === 8 && text.hiddenSize === 768) {
    warnings.push(
      'text_config.num_attention_heads is 8 on a 768-wide text model; the official BLIP checkpoints need 12 ' +
        '(a stale hub config said 8 until 2023-04): outputs will differ from current transformers',
    );
  }
  return text;
}

function parseGeneration(fields: ConfigFields): BlipGenerationDefaults {
  const generation: BlipGenerationDefaults = {
    maxLength: fields.positiveInt('max_length', GENERATION_DEFAULTS.max_length),
    minLength: fields.nonNegativeInt('min_length', GENERATION_DEFAULTS.min_length),
    numBeams: fields.positiveInt('num_beams', GENERATION_DEFAULTS.num_beams),
    lengthPenalty: fields.finiteNumber('length_penalty', GENERATION_DEFAULTS.length_penalty),
    repetitionPenalty: fields.positiveNumber('repetition_penalty', GENERATION_DEFAULTS.repetition_penalty),
    earlyStopping: fields.boolean('early_stopping', GENERATION_DEFAULTS.early_stopping),
  };
  if (generation.minLength > generation.maxLength) {
    fields.fail('min_length', `at most max_length ${generation.maxLength}`, generation.minLength);
  }
  return generation;
}

// Private: `vision_config` / `text_config` may be absent or null (then every default applies).
function sectionAt(root: ConfigFields, key: string): Record<string, unknown> {
  const value = root.raw(key);
  return value === undefined || value === null ? {} : objectAt(value, key, root.file);
}

function objectAt(value: unknown, what: string, file: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw checkpointError(file, `Expected a JSON object for ${what} but received ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Typed access to one config object; every failure names `<prefix><key>` and the value received. */
class ConfigFields {
  constructor(
    private readonly values: Record<string, unknown>,
    private readonly prefix: string,
    readonly file: string,
  ) {}

  raw(key: string): unknown {
    return Object.hasOwn(this.values, key) ? this.values[key] : undefined;
  }

  fail(key: string, expected: string, received: unknown): never {
    throw checkpointError(
      this.file,
      `Expected ${expected} for ${this.prefix}${key} but received ${describeValue(received)}`,
    );
  }

  positiveInt(key: string, fallback: number): number {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      this.fail(key, 'a positive integer', value);
    }
    return value;
  }

  nonNegativeInt(key: string, fallback: number): number {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.fail(key, 'a non-negative integer', value);
    }
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(key, 'a positive number', value);
    return value;
  }

  finiteNumber(key: string, fallback: number): number {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, 'a finite number', value);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
    return value;
  }

  tokenId(key: string, fallback: number, vocabSize: number): number {
    const value = this.#valueOr(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      this.fail(key, `a token id in 0..${vocabSize - 1} (vocab_size ${vocabSize})`, value);
    }
    return value;
  }

  /** Only exact-erf GELU is implemented (transformers' "gelu"). */
  gelu(key: string): 'gelu' {
    const value = this.#valueOr(key, 'gelu');
    if (value !== 'gelu') this.fail(key, '"gelu"', value);
    return 'gelu';
  }

  divisible(key: string, value: number, divisorKey: string, divisor: number): void {
    if (value % divisor !== 0) {
      this.fail(key, `a multiple of ${this.prefix}${divisorKey} (${divisor})`, value);
    }
  }

  expectModelType(modelType: string): void {
    const value = this.raw('model_type');
    if (value !== undefined && value !== modelType) this.fail('model_type', JSON.stringify(modelType), value);
  }

  /** Absent keys take the default; an explicit null is a value (and fails validation), as in Python. */
  #valueOr(key: string, fallback: unknown): unknown {
    return Object.hasOwn(this.values, key) ? this.values[key] : fallback;
  }
}
