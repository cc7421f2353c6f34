import type { BlipVisionConfig } from '../checkpoint/blip-config.ts';
import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import { attend, gelu, layerNorm, linear, mergeHeads, transposeKeys } from './layers.ts';
import type { WeightLoader } from './weight-loader.ts';

export const VISION_INPUT = 'pixel_values';
export const VISION_OUTPUT = 'image_embeds';

export function imageTokenCount(config: BlipVisionConfig): number {
  return (config.imageSize / config.patchSize) ** 2 + 1;
}

/**
 * BlipVisionModel: patch embedding (a strided convolution), class token, learned positions, pre-LN transformer
 * blocks and the final post_layernorm. `pixel_values [B, C, S, S]` → `image_embeds [B, 1 + (S/p)², D]`.
 */
export async function buildVisionGraph(g: GraphBuilder, w: WeightLoader, config: BlipVisionConfig): Promise<void> {
  const { hiddenSize: D, numAttentionHeads: heads, patchSize: p, imageSize: S, numChannels: C } = config;
  const headDim = D / heads;
  const tokens = imageTokenCount(config);
  const prefix = 'vision_model';

  const pixels = g.input(VISION_INPUT, 'float32', ['batch', C, S, S]);
  const conv = g.node(
    'Conv',
    [pixels, await w.tensor(g, `${prefix}.embeddings.patch_embedding.weight`), await w.vector(g, `${prefix}.embeddings.patch_embedding.bias`)],
    { kernel_shape: [p, p], strides: [p, p] },
  );
  // [B, D, S/p, S/p] → [B, (S/p)², D], patches in row-major order as torch's flatten(2).transpose(1, 2).
  const patches = g.node('Transpose', [g.node('Reshape', [conv, g.ints([0, D, -1])])], { perm: [0, 2, 1] });

  const batch = g.node('Slice', [g.node('Shape', [pixels]), g.ints([0]), g.ints([1])]);
  const classShape = g.node('Concat', [batch, g.ints([1, D])], { axis: 0 });
  const classToken = g.node('Expand', [await w.tensor(g, `${prefix}.embeddings.class_embedding`, [1, 1, D]), classShape]);
  const withClass = g.node('Concat', [classToken, patches], { axis: 1 });
  const positions = await w.tensor(g, `${prefix}.embeddings.position_embedding`, [1, tokens, D]);
  let x = g.node('Add', [withClass, positions]);

  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `${prefix}.encoder.layers.${i}`;
    const h = await layerNorm(g, w, x, `${layer}.layer_norm1`, config.layerNormEps);
    // The fused qkv projection's output features are ordered [q | k | v], each split into heads.
    const qkv = await linear(g, w, h, `${layer}.self_attn.qkv`);
    const split = g.node('Transpose', [g.node('Reshape', [qkv, g.ints([0, 0, 3, heads, headDim])])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((part) => g.node('Gather', [split, g.ints([part], [])], { axis: 0 }));
    const context = mergeHeads(g, attend(g, q, transposeKeys(g, k), v, { kind: 'multiply', headDim }), D);
    const projected = await linear(g, w, context, `${layer}.self_attn.projection`);
    x = g.node('Add', [x, projected]);

    const h2 = await layerNorm(g, w, x, `${layer}.layer_norm2`, config.layerNormEps);
    const mlp = await linear(g, w, gelu(g, await linear(g, w, h2, `${layer}.mlp.fc1`)), `${layer}.mlp.fc2`);
    x = g.node('Add', [x, mlp]);
  }

  const out = await layerNorm(g, w, x, `${prefix}.post_layernorm`, config.layerNormEps);
  g.output(out, VISION_OUTPUT, 'float32', ['batch', tokens, D]);
}
