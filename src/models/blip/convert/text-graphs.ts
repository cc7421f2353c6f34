import type { BlipTextConfig } from '../checkpoint/blip-config.ts';
import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import { attend, attendInt8, attendWithPast, gelu, layerNorm, linear, mergeHeads, quantizeSymmetric, splitHeads, transposeKeys, type QuantizedKv } from './layers.ts';
import type { WeightLoader } from './weight-loader.ts';
import { CrossKvIO, DecoderIO, QuestionEncoderIO } from '../graph-names.ts';
import type { CrossKvPrecision } from '../../../variant/manifest.ts';

/**
 * The text side of BLIP as three graphs (see ../shared/docs/blip-spec.md §4):
 * - cross K/V: the cross-attention keys and values of every decoder layer, computed once per image (or question);
 * - decoder step: one step of the causal text decoder over a self-attention KV cache it only reads, returning
 *   last-position logits and the step's own keys and values;
 * - question encoder (VQA): the bidirectional text encoder with cross-attention to the image.
 */

interface TextDims {
  heads: number;
  headDim: number;
  hidden: number;
}

function dims(config: BlipTextConfig): TextDims {
  return { heads: config.numAttentionHeads, headDim: config.hiddenSize / config.numAttentionHeads, hidden: config.hiddenSize };
}

/**
 * Cross-attention K/V of every layer of `trunk` (e.g. 'text_decoder.bert') over `[B, M, E]` states. With `kv` 'int8'
 * they are emitted as int8 codes with one scale per row, head and token (DecoderIO.crossKeyScale/crossValueScale,
 * `[B, h, 1, M]` both), which the decoder step built with the same `kv` reads: a decode step then reads a quarter
 * of the bytes. Per-token scales keep a row's codes independent of the other rows and of padding.
 */
export async function buildCrossKvGraph(
  g: GraphBuilder,
  w: WeightLoader,
  config: BlipTextConfig,
  trunk: string,
  encoderWidth: number,
  kv: CrossKvPrecision = 'fp32',
): Promise<void> {
  assertBuildable(kv);
  const { heads, headDim } = dims(config);
  const states = g.input(CrossKvIO.states, 'float32', ['batch', 'encoder_sequence', encoderWidth]);
  const keyDims = ['batch', heads, headDim, 'encoder_sequence'];
  const valueDims = ['batch', heads, 'encoder_sequence', headDim];
  const scaleDims = ['batch', heads, 1, 'encoder_sequence'];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const self = `${trunk}.encoder.layer.${i}.crossattention.self`;
    // Keys are stored transposed ([B, h, d, M]) so every decode step multiplies by them without a Transpose.
    const keyT = transposeKeys(g, splitHeads(g, await linear(g, w, states, `${self}.key`), heads, headDim));
    const value = splitHeads(g, await linear(g, w, states, `${self}.value`), heads, headDim);
    if (kv === 'fp32') {
      g.output(keyT, DecoderIO.crossKey(i), 'float32', keyDims);
      g.output(value, DecoderIO.crossValue(i), 'float32', valueDims);
      continue;
    }
    const k = quantizeSymmetric(g, keyT, 2);
    const v = quantizeSymmetric(g, value, 3);
    g.output(k.codes, DecoderIO.crossKey(i), 'int8', keyDims);
    g.output(v.codes, DecoderIO.crossValue(i), 'int8', valueDims);
    g.output(k.scale, DecoderIO.crossKeyScale(i), 'float32', scaleDims);
    // [B, h, M, 1] → [B, h, 1, M]: the same memory, the layout the decoder multiplies probabilities by.
    g.output(g.node('Reshape', [v.scale, g.ints([0, 0, 1, -1])]), DecoderIO.crossValueScale(i), 'float32', scaleDims);
  }
}

function assertBuildable(kv: CrossKvPrecision): void {
  // fp16 is a manifest value reserved for a form measured slower on the CPU provider (README "Precision").
  if (kv !== 'fp32' && kv !== 'int8') throw new Error(`Expected fp32 or int8 for the cross K/V precision but received ${kv}`);
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
  cross: { keyT: string; value: string; bias?: string } | (QuantizedKv & { bias?: string }),
): Promise<string> {
  const { heads, headDim, hidden } = dims(config);
  const q = splitHeads(g, await linear(g, w, a, `${layer}.crossattention.self.query`), heads, headDim);
  const scaling = { kind: 'divide' as const, headDim };
  const attended = 'keyScale' in cross ? attendInt8(g, q, cross, scaling, cross.bias) : attend(g, q, cross.keyT, cross.value, scaling, cross.bias);
  const context = mergeHeads(g, attended, hidden);
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
 * One decoding step of BlipTextLMHeadModel over `seq` new tokens per row. The self-attention cache is a buffer the
 * runtime owns, `past_key_i`/`past_value_i [B, h, capacity, d]` (row i of the batch is row i of the cache: beams are
 * reordered by the runtime, in place), read and never copied: the graph outputs only the call's own keys and values
 * (`new_key_i`/`new_value_i [B, h, seq, d]`), which the runtime writes into the buffer's next columns. So a step
 * allocates nothing of the cache's size (README, "Self-attention cache"). `self_bias [B,1,S,capacity+S]` and
 * `cross_bias [B,1,1,M]` are additive masks (0 or −10000) built by the runtime: they hide the unused and padding
 * columns of the cache, and let rows with different prompt lengths and padded questions share a batch. Only the last
 * position's logits are output. `kv` is the cross K/V precision of the matching cross K/V graph.
 */
export async function buildDecoderStepGraph(g: GraphBuilder, w: WeightLoader, config: BlipTextConfig, owner: 'text_decoder', kv: CrossKvPrecision = 'fp32'): Promise<void> {
  assertBuildable(kv);
  const { heads, headDim, hidden } = dims(config);
  const trunk = `${owner}.bert`;
  const inputIds = g.input(DecoderIO.inputIds, 'int64', ['batch', 'sequence']);
  const positionIds = g.input(DecoderIO.positionIds, 'int64', ['batch', 'sequence']);
  const selfBias = g.input(DecoderIO.selfBias, 'float32', ['batch', 1, 'sequence', 'total_sequence']);
  const crossBias = g.input(DecoderIO.crossBias, 'float32', ['batch', 1, 1, 'encoder_sequence']);

  let x = await embed(g, w, config, trunk, inputIds, positionIds);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `${trunk}.encoder.layer.${i}`;
    const pastKey = g.input(DecoderIO.pastKey(i), 'float32', ['batch', heads, 'capacity', headDim]);
    const pastValue = g.input(DecoderIO.pastValue(i), 'float32', ['batch', heads, 'capacity', headDim]);
    const kvType = kv === 'int8' ? 'int8' : 'float32';
    const crossKey = g.input(DecoderIO.crossKey(i), kvType, ['batch', heads, headDim, 'encoder_sequence']);
    const crossValue = g.input(DecoderIO.crossValue(i), kvType, ['batch', heads, 'encoder_sequence', headDim]);
    const cross =
      kv === 'int8'
        ? {
            keyT: crossKey,
            value: crossValue,
            keyScale: g.input(DecoderIO.crossKeyScale(i), 'float32', ['batch', heads, 1, 'encoder_sequence']),
            valueScale: g.input(DecoderIO.crossValueScale(i), 'float32', ['batch', heads, 1, 'encoder_sequence']),
            bias: crossBias,
          }
        : { keyT: crossKey, value: crossValue, bias: crossBias };

    const q = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.query`), heads, headDim);
    const k = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.key`), heads, headDim);
    const v = splitHeads(g, await linear(g, w, x, `${layer}.attention.self.value`), heads, headDim);
    g.output(k, DecoderIO.newKey(i), 'float32', ['batch', heads, 'sequence', headDim]);
    g.output(v, DecoderIO.newValue(i), 'float32', ['batch', heads, 'sequence', headDim]);

    const context = attendWithPast(g, q, { key: pastKey, value: pastValue }, { key: k, value: v }, { kind: 'divide', headDim }, selfBias);
    const a = await selfAttentionOutput(g, w, config, layer, context, x);
    x = await crossAndFeedForward(g, w, config, layer, a, cross);
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
