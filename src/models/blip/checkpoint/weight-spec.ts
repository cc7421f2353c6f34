/**
 * Every tensor BlipForConditionalGeneration / BlipForQuestionAnswering read, with the shape the config implies
 * (blip-spec §2), and the check that a checkpoint provides them.
 *
 * Cross-attention key/value matrices are `[text hidden, E]` where E is the width of the states they read: the image
 * (vision hidden size) for the captioning decoder and the VQA question encoder, but the question encoder's output
 * (text hidden size) for the VQA answer decoder.
 */
import { checkpointError } from '../../../errors.ts';
import type { BlipArchitecture, BlipConfig, BlipTextConfig } from './blip-config.ts';
import { formatShape } from '../../../checkpoint/describe-value.ts';
import { isFloatDType } from '../../../checkpoint/stored-dtype.ts';
import type { WeightSource } from '../../../checkpoint/weight-source.ts';

/** What a tensor is, which is all random initialisation needs to know. */
export type WeightRole = 'weight' | 'bias' | 'norm-weight' | 'norm-bias' | 'position-ids';

/**
 * - `required`: must be present with this shape and a floating-point dtype.
 * - `tied`: read if present (shape checked); when absent, `fallback` is read instead.
 * - `ignored`: tolerated when present, never read (buffers and duplicates of other tensors).
 */
export type WeightPresence = 'required' | 'tied' | 'ignored';

export interface WeightSpecEntry {
  name: string;
  shape: number[];
  role: WeightRole;
  presence: WeightPresence;
  /** For `tied` entries: the tensor that stands in when this one is absent. */
  fallback?: string;
}

export interface WeightSpec {
  architecture: BlipArchitecture;
  /** In the order the PyTorch modules register them. */
  entries: WeightSpecEntry[];
  byName: ReadonlyMap<string, WeightSpecEntry>;
}

/** The LM-head matrix; when a checkpoint was saved with tied weights deduplicated it is absent. */
export const LM_HEAD_WEIGHT = 'text_decoder.cls.predictions.decoder.weight';
export const DECODER_WORD_EMBEDDINGS = 'text_decoder.bert.embeddings.word_embeddings.weight';

export function blipWeightSpec(config: BlipConfig): WeightSpec {
  const entries: WeightSpecEntry[] = [];
  const add = (name: string, shape: number[], role: WeightRole, presence: WeightPresence = 'required'): void => {
    entries.push({ name, shape, role, presence });
  };
  addVision(config, add);
  const { text } = config;
  if (config.task === 'vqa') {
    addTextStack('text_encoder.', text, text.encoderHiddenSize, add);
    addTextStack('text_decoder.bert.', text, text.hiddenSize, add);
  } else {
    addTextStack('text_decoder.bert.', text, text.encoderHiddenSize, add);
  }
  addLmHead(text, add);
  const lmHead = entries.find((entry) => entry.name === LM_HEAD_WEIGHT)!;
  lmHead.presence = 'tied';
  lmHead.fallback = DECODER_WORD_EMBEDDINGS;
  return { architecture: config.architecture, entries, byName: new Map(entries.map((entry) => [entry.name, entry])) };
}

/**
 * The stored tensor to read for `name`: itself when present, else its fallback (for `tied` entries).
 * Throws when neither is in the source.
 */
export function resolveWeightName(spec: WeightSpec, source: WeightSource, name: string): string {
  if (source.get(name) !== undefined) return name;
  const entry = spec.byName.get(name);
  if (entry?.presence === 'tied' && entry.fallback !== undefined && source.get(entry.fallback) !== undefined) {
    return entry.fallback;
  }
  const message =
    entry?.fallback === undefined
      ? `Expected a weight named '${name}' but the checkpoint has none`
      : `Expected a weight named '${name}' or its stand-in '${entry.fallback}' but the checkpoint has neither`;
  throw checkpointError(source.file, message);
}

/**
 * Checks that `source` has every weight `config` needs, with the right shapes. Throws on the first problem;
 * tensors the architecture does not use, and tied weights that fall back, are reported as warnings.
 */
export function validateWeights(source: WeightSource, config: BlipConfig): { warnings: string[] } {
  const spec = blipWeightSpec(config);
  const warnings: string[] = [];
  for (const entry of spec.entries) {
    if (entry.presence === 'ignored') continue;
    const info = source.get(entry.name);
    if (info === undefined) {
      if (entry.presence === 'tied') {
        resolveWeightName(spec, source, entry.name);
        warnings.push(
          `'${entry.name}' is absent; the LM head uses '${entry.fallback}' instead (tied weights, as in the original BLIP)`,
        );
        continue;
      }
      throw checkpointError(
        source.file,
        `Expected weight '${entry.name}' with shape ${formatShape(entry.shape)} for ${spec.architecture} ` +
          'but the checkpoint has no such tensor',
      );
    }
    if (!sameShape(info.shape, entry.shape)) {
      throw checkpointError(
        source.file,
        `weight '${entry.name}' has shape ${formatShape(info.shape)} but the config expects ${formatShape(entry.shape)}`,
      );
    }
    if (!isFloatDType(info.dtype)) {
      throw checkpointError(
        source.file,
        `Expected a floating-point dtype for weight '${entry.name}' but received ${info.dtype}`,
      );
    }
  }
  const unused = source.list().filter((info) => !spec.byName.has(info.name));
  if (unused.length > 0) {
    const shown = unused.slice(0, 10).map((info) => `'${info.name}'`);
    const more = unused.length > shown.length ? ` and ${unused.length - shown.length} more` : '';
    warnings.push(
      `${unused.length} tensor(s) are not used by ${spec.architecture} and will be ignored: ${shown.join(', ')}${more}`,
    );
  }
  return { warnings };
}

type AddEntry = (name: string, shape: number[], role: WeightRole, presence?: WeightPresence) => void;

// Private: BlipVisionModel, `vision_model.*` (pre-LN ViT with fused qkv).
function addVision(config: BlipConfig, add: AddEntry): void {
  const { hiddenSize: d, intermediateSize: inner, numChannels, imageSize, patchSize } = config.vision;
  const positions = Math.floor(imageSize / patchSize) ** 2 + 1;
  const p = 'vision_model.';
  add(`${p}embeddings.class_embedding`, [1, 1, d], 'weight');
  add(`${p}embeddings.patch_embedding.weight`, [d, numChannels, patchSize, patchSize], 'weight');
  add(`${p}embeddings.patch_embedding.bias`, [d], 'bias');
  add(`${p}embeddings.position_embedding`, [1, positions, d], 'weight');
  for (let i = 0; i < config.vision.numHiddenLayers; i++) {
    const layer = `${p}encoder.layers.${i}.`;
    add(`${layer}self_attn.qkv.weight`, [3 * d, d], 'weight');
    add(`${layer}self_attn.qkv.bias`, [3 * d], 'bias');
    add(`${layer}self_attn.projection.weight`, [d, d], 'weight');
    add(`${layer}self_attn.projection.bias`, [d], 'bias');
    addNorm(`${layer}layer_norm1`, d, add);
    add(`${layer}mlp.fc1.weight`, [inner, d], 'weight');
    add(`${layer}mlp.fc1.bias`, [inner], 'bias');
    add(`${layer}mlp.fc2.weight`, [d, inner], 'weight');
    add(`${layer}mlp.fc2.bias`, [d], 'bias');
    addNorm(`${layer}layer_norm2`, d, add);
  }
  addNorm(`${p}post_layernorm`, d, add);
}

// Private: a BERT trunk with cross-attention in every layer; `crossWidth` is the width of the states it reads.
function addTextStack(p: string, text: BlipTextConfig, crossWidth: number, add: AddEntry): void {
  const { hiddenSize: h, intermediateSize: inner, vocabSize, maxPositionEmbeddings } = text;
  add(`${p}embeddings.word_embeddings.weight`, [vocabSize, h], 'weight');
  add(`${p}embeddings.position_embeddings.weight`, [maxPositionEmbeddings, h], 'weight');
  addNorm(`${p}embeddings.LayerNorm`, h, add);
  // A registered buffer (0..max-1); old checkpoints store it, new ones do not.
  add(`${p}embeddings.position_ids`, [1, maxPositionEmbeddings], 'position-ids', 'ignored');
  for (let j = 0; j < text.numHiddenLayers; j++) {
    const layer = `${p}encoder.layer.${j}.`;
    addLinear(`${layer}attention.self.query`, h, h, add);
    addLinear(`${layer}attention.self.key`, h, h, add);
    addLinear(`${layer}attention.self.value`, h, h, add);
    addLinear(`${layer}attention.output.dense`, h, h, add);
    addNorm(`${layer}attention.output.LayerNorm`, h, add);
    addLinear(`${layer}crossattention.self.query`, h, h, add);
    addLinear(`${layer}crossattention.self.key`, h, crossWidth, add);
    addLinear(`${layer}crossattention.self.value`, h, crossWidth, add);
    addLinear(`${layer}crossattention.output.dense`, h, h, add);
    addNorm(`${layer}crossattention.output.LayerNorm`, h, add);
    addLinear(`${layer}intermediate.dense`, inner, h, add);
    addLinear(`${layer}output.dense`, h, inner, add);
    addNorm(`${layer}output.LayerNorm`, h, add);
  }
}

// Private: BlipTextLMPredictionHead of the decoder.
function addLmHead(text: BlipTextConfig, add: AddEntry): void {
  const { hiddenSize: h, vocabSize } = text;
  const p = 'text_decoder.cls.predictions.';
  addLinear(`${p}transform.dense`, h, h, add);
  addNorm(`${p}transform.LayerNorm`, h, add);
  add(`${p}decoder.weight`, [vocabSize, h], 'weight');
  // The same Parameter as `cls.predictions.bias`; save_pretrained drops it, older files keep it.
  add(`${p}decoder.bias`, [vocabSize], 'bias', 'ignored');
  add(`${p}bias`, [vocabSize], 'bias');
}

/** PyTorch Linear: weight [out, in], bias [out]. */
function addLinear(name: string, outFeatures: number, inFeatures: number, add: AddEntry): void {
  add(`${name}.weight`, [outFeatures, inFeatures], 'weight');
  add(`${name}.bias`, [outFeatures], 'bias');
}

function addNorm(name: string, width: number, add: AddEntry): void {
  add(`${name}.weight`, [width], 'norm-weight');
  add(`${name}.bias`, [width], 'norm-bias');
}

function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && actual.every((dim, axis) => dim === expected[axis]);
}
