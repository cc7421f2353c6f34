/**
 * BLIP's graph contract: the input and output names of the ONNX graphs a converted variant holds. The converter
 * (convert/) writes graphs with these names and the runtime (runtime/) feeds and reads them; both import them from
 * here, so serving code never loads the converter.
 */

/** The vision encoder: pixel values in, image embeddings (CLS token first) out. */
export const VISION_INPUT = 'pixel_values';
export const VISION_OUTPUT = 'image_embeds';

/** The decoder step graph. */
export const DecoderIO = {
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  selfBias: 'self_bias',
  crossBias: 'cross_bias',
  logits: 'logits',
  /** The self-attention cache buffer `[batch, heads, capacity, headDim]`, owned by the runtime and fed whole. */
  pastKey: (layer: number) => `past_key_${layer}`,
  pastValue: (layer: number) => `past_value_${layer}`,
  /** The call's own keys and values `[batch, heads, sequence, headDim]`, which the runtime writes into its cache. */
  newKey: (layer: number) => `new_key_${layer}`,
  newValue: (layer: number) => `new_value_${layer}`,
  crossKey: (layer: number) => `cross_key_${layer}`,
  crossValue: (layer: number) => `cross_value_${layer}`,
  /** Variants with int8 cross K/V (manifest `crossKvPrecision`): the `[B,h,1,M]` scale of each key / value token. */
  crossKeyScale: (layer: number) => `cross_key_scale_${layer}`,
  crossValueScale: (layer: number) => `cross_value_scale_${layer}`,
} as const;

/** The cross K/V graph: encoder states in, each decoder layer's cross-attention keys and values (DecoderIO names) out. */
export const CrossKvIO = { states: 'encoder_hidden_states' } as const;

/** The VQA question encoder. */
export const QuestionEncoderIO = { inputIds: 'input_ids', attentionMask: 'attention_mask', imageEmbeds: 'image_embeds', output: 'question_embeds' } as const;
