import type { BlipTextConfig } from '../checkpoint/blip-config.ts';
import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import { attend, gelu, layerNorm, linear, mergeHeads, splitHeads, transposeKeys } from './layers.ts';
import type { WeightLoader } from './weight-loader.ts';

/**
 * The text side of BLIP as three graphs (see ../shared/docs/blip-spec.md §4):
 * - cross K/V: the cross-attention keys and values of every decoder layer, computed once per image (or question);
 * - decoder step: one step of the causal text decoder with a self-attention KV cache, returning last-position logits;
 * - question encoder (VQA): the bidirectional text encoder with cross-attention to the image.
 */

/** Names of the decoder step graph's inputs and outputs, shared with the runtime that feeds it. */
export const DecoderIO = {
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  selfBias: 'self_bias',
  parents: 'parents',
  crossBias: 'cross_bias',
  logits: 'logits',
  pastKey: (layer: number) => `past_key_${layer}`,
  pastValue: (layer: number) => `past_value_${layer}`,
  presentKey: (layer: number) => `present_key_${layer}`,
  presentValue: (layer: number) => `present_value_${layer}`,
  crossKey: (layer: number) => `cross_key_${layer}`,
  crossValue: (layer: number) => `cross_value_${layer}`,
} as const;

export const CrossKvIO = { states: 'encoder_hidden_states' } as const;
export const QuestionEncoderIO = { inputIds: 'input_ids', attentionMask: 'attention_mask', imageEmbeds: 'image_embeds', output: 'question_embeds' } as const;

interface TextDims {
  heads: number;
  headDim: number;
  hidden: number;
}

function dims(config: BlipTextConfig): TextDims {
  return { heads: config.numAttentionHeads, headDim: config.hiddenSize / config.numAttentionHeads, hidden: config.hiddenSize };
}

/** Cross-attention K/V of every layer of `trunk` (e.g. 'text_decoder.bert') over `[B, M, E]` states. */
export async function buildCrossKvGraph(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, trunk: string, encoderWidth: number): Promise<void> {
  const { heads, headDim } = dims(config);
  const states = g.input(CrossKvIO.states, 'float32', ['batch', 'encoder_sequence', encoderWidth]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const self = `${trunk}.encoder.layer.${i}.crossattention.self`;
    // Keys are stored transposed ([B, h, d, M]) so every decode step multiplies by them without a Transpose.
    const keyT = transposeKeys(g, splitHeads(g, await linear(g, w, states, `${self}.key`), heads, headDim));
    const value = splitHeads(g, await linear(g, w, states, `${self}.value`), heads, headDim);
    g.output(keyT, DecoderIO.crossKey(i), 'float32', ['batch', heads, headDim, 'encoder_sequence']);
    g.output(value, DecoderIO.crossValue(i), 'float32', ['batch', heads, 'encoder_sequence', headDim]);
  }
}

async function embed(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, trunk: string, inputIds: string, positionIds: string): Promise<string> {
  const words = g.node('Gather', [await w.tensor(g, `${trunk}.embeddings.word_embeddings.weight`), inputIds], { axis: 0 });
  const positions = g.node('Gather', [await w.tensor(g, `${trunk}.embeddings.position_embeddings.weight`), positionIds], { axis: 0 });
  return layerNorm(g, w, g.node('Add', [words, positions]), `${trunk}.embeddings.LayerNorm`, config.layerNormEps);
}

/** Cross-attention sub-layer + feed-forward sub-layer of a BERT layer (post-LN), given precomputed cross K/V. */
async function crossAndFeedForward(
  g: GraphBuilder,
  w: WeightLoader,
  config: BlipTextConfig,
  layer: string,
  a: string,
  cross: { keyT: string; value: string; bias?: string },
): Promise<string> {
  const { heads, headDim, hidden } = dims(config);
  const q = splitHeads(g, await linear(g, w, a, `${layer}.crossattention.self.query`), heads, headDim);
  const context = mergeHeads(g, attend(g, q, cross.keyT, cross.value, { kind: 'divide', headDim }, cross.bias), hidden);
  const c = await layerNorm(g, w, g.node('Add', [await linear(g, w, context, `${layer}.crossattention.output.dense`), a]), `${layer}.crossattention.output.LayerNorm`, config.layerNormEps);
  const f = gelu(g, await linear(g, w, c, `${layer}.intermediate.dense`));
  return layerNorm(g, w, g.node('Add', [await linear(g, w, f, `${layer}.output.dense`), c]), `${layer}.output.LayerNorm`, config.layerNormEps);
}

async function selfAttentionOutput(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, layer: string, context: string, residual: string): Promise<string> {
  const merged = mergeHeads(g, context, config.hiddenSize);
  const projected = await linear(g, w, merged, `${layer}.attention.output.dense`);
  return layerNorm(g, w, g.node('Add', [projected, residual]), `${layer}.attention.output.LayerNorm`, config.layerNormEps);
}

/**
 * One decoding step of BlipTextLMHeadModel over `seq` new tokens per row. The self-attention cache of the previous
 * step is first gathered by `parents` (row i continues previous row parents[i]: beams reorder, finished rows drop).
 * `self_bias [B,1,S,P+S]` and `cross_bias [B,1,1,M]` are additive masks (0 or −10000) built by the runtime, which lets
 * rows with different prompt lengths and padded questions share a batch. Only the last position's logits are output.
 */
export async function buildDecoderStepGraph(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, owner: 'text_decoder'): Promise<void> {
  const { heads, headDim, hidden } = dims(config);
  const trunk = `${owner}.bert`;
  const inputIds = g.input(DecoderIO.inputIds, 'int64', ['batch', 'sequence']);
  const positionIds = g.input(DecoderIO.positionIds, 'int64', ['batch', 'sequence']);
  const selfBias = g.input(DecoderIO.selfBias, 'float32', ['batch', 1, 'sequence', 'total_sequence']);
  const parents = g.input(DecoderIO.parents, 'int64', ['batch']);
  const crossBias = g.input(DecoderIO.crossBias, 'float32', ['batch', 1, 1, 'encoder_sequence']);

  let x = await embed(g, w, config, trunk, inputIds, positionIds);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `${trunk}.encoder.layer.${i}`;
    const pastKey = g.input(DecoderIO.pastKey(i), 'float32', ['past_batch', heads, 'past_sequence', headDim]);
    const pastValue = g.input(DecoderIO.pastValue(i), 'float32', ['past_batch', heads, 'past_sequence', headDim]);
    const crossKey = g.input(DecoderIO.crossKey(i), 'float32', ['batch', heads, headDim, 'encoder_sequence']);
    const crossValue = g.input(DecoderIO.crossValue(i), 'float32', ['batch', heads, 'encoder_sequence', headDim]);

    const q = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.query`), heads, headDim);
    const k = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.key`), heads, headDim);
    const v = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.value`), heads, headDim);
    const key = g.node('Concat', [g.node('Gather', [pastKey, parents], { axis: 0 }), k], { axis: 2 });
    const value = g.node('Concat', [g.node('Gather', [pastValue, parents], { axis: 0 }), v], { axis: 2 });
    g.output(key, DecoderIO.presentKey(i), 'float32', ['batch', heads, 'total_sequence', headDim]);
    g.output(value, DecoderIO.presentValue(i), 'float32', ['batch', heads, 'total_sequence', headDim]);

    const context = attend(g, q, transposeKeys(g, key), value, { kind: 'divide', headDim }, selfBias);
    const a = await selfAttentionOutput(g, w, config, layer, context, x);
    x = await crossAndFeedForward(g, w, config, layer, a, { keyT: crossKey, value: crossValue, bias: crossBias });
  }

  // LM head on the last position only: generation never needs the others.
  const last = g.node('Slice', [x, g.ints([-1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([1])]);
  const lastHidden = g.node('Reshape', [last, g.ints([-1, hidden])]);
  const head = `${owner}.cls.predictions`;
  const transformed = await layerNorm(g, w, gelu(g, await linear(g, w, lastHidden, `${head}.transform.dense`)), `${head}.transform.LayerNorm`, config.layerNormEps);
  const logits = g.node('Add', [g.node('MatMul', [transformed, await w.transposed(g, `${head}.decoder.weight`)]), await w.vector(g, `${head}.bias`)]);
  g.output(logits, DecoderIO.logits, 'float32', ['batch', config.vocabSize]);
}

/**
 * BlipForQuestionAnswering's text_encoder: a BERT encoder in encoder mode (bidirectional self-attention masked by the
 * question padding) with cross-attention over the image embeddings in every layer. Positions are 0…L−1 for every row
 * (questions are right-padded), so a padded row's real positions compute what the row alone computes.
 */
export async function buildQuestionEncoderGraph(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, imageWidth: number): Promise<void> {
  const { heads, headDim, hidden } = dims(config);
  const trunk = 'text_encoder';
  const inputIds = g.input(QuestionEncoderIO.inputIds, 'int64', ['batch', 'sequence']);
  const mask = g.input(QuestionEncoderIO.attentionMask, 'int64', ['batch', 'sequence']);
  const image = g.input(QuestionEncoderIO.imageEmbeds, 'float32', ['batch', 'image_sequence', imageWidth]);

  const length = g.node('Slice', [g.node('Shape', [inputIds]), g.ints([1]), g.ints([2])]);
  const positionIds = g.node('Unsqueeze', [g.node('Range', [g.ints([0], []), g.node('Squeeze', [length, g.ints([0])]), g.ints([1], [])]), g.ints([0])]);
  let x = await embed(g, w, config, trunk, inputIds, positionIds);

  // (1 − mask)·(−10000), as transformers' get_extended_attention_mask for an encoder: [B, 1, 1, L].
  const keep = g.node('Cast', [mask], { to: 1 });
  const selfBias = g.node('Unsqueeze', [g.node('Mul', [g.node('Sub', [g.scalar(1), keep]), g.scalar(-10000)]), g.ints([1, 2])]);

  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `${trunk}.encoder.layer.${i}`;
    const q = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.query`), heads, headDim);
    const k = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.key`), heads, headDim);
    const v = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.value`), heads, headDim);
    const context = attend(g, q, transposeKeys(g, k), v, { kind: 'divide', headDim }, selfBias);
    const a = await selfAttentionOutput(g, w, config, layer, context, x);
    const crossKeyT = transposeKeys(g, splitHeads(g, await linear(g, w, image, `${layer}.crossattention.self.key`), heads, headDim));
    const crossValue = splitHeads(g, await linear(g, w, image, `${layer}.crossattention.self.value`), heads, headDim);
    x = await crossAndFeedForward(g, w, config, layer, a, { keyT: crossKeyT, value: crossValue });
  }
  g.output(x, QuestionEncoderIO.output, 'float32', ['batch', 'sequence', hidden]);
}
