import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import type { WeightLoader } from './weight-loader.ts';

/**
 * Building blocks shared by BLIP's vision and text graphs. Each one follows the transformers module of the same name
 * (see ../shared/docs/blip-spec.md §3 and §4); the ONNX patterns are the ones ONNX Runtime's optimizer recognises
 * (LayerNormalization, the erf form of GELU), so they run as fused kernels.
 */

/** `x · Wᵀ + b` for a PyTorch Linear stored as `[out, in]`. */
export async function linear(g: GraphBuilder, w: WeightLoader, x: string, prefix: string): Promise<string> {
  const weight = await w.transposed(g, `${prefix}.weight`);
  const bias = await w.vector(g, `${prefix}.bias`);
  return g.node('Add', [g.node('MatMul', [x, weight]), bias]);
}

export async function layerNorm(g: GraphBuilder, w: WeightLoader, x: string, prefix: string, eps: number): Promise<string> {
  const gamma = await w.vector(g, `${prefix}.weight`);
  const beta = await w.vector(g, `${prefix}.bias`);
  return g.node('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: { f: eps } });
}

/** Exact (erf) GELU, as transformers' "gelu": 0.5·x·(1 + erf(x/√2)). */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)])]);
  return g.node('Mul', [g.node('Mul', [x, g.node('Add', [erf, g.scalar(1)])]), g.scalar(0.5)]);
}

/** `[B, S, heads·dim]` → `[B, heads, S, dim]`. */
export function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  const reshaped = g.node('Reshape', [x, g.ints([0, 0, heads, headDim])]);
  return g.node('Transpose', [reshaped], { perm: [0, 2, 1, 3] });
}

/** `[B, heads, S, dim]` → `[B, S, heads·dim]`. */
export function mergeHeads(g: GraphBuilder, x: string, width: number): string {
  const transposed = g.node('Transpose', [x], { perm: [0, 2, 1, 3] });
  return g.node('Reshape', [transposed, g.ints([0, 0, width])]);
}

export interface AttentionScaling {
  /** transformers' vision attention multiplies by head_dim^-0.5; its text attention divides by √head_dim. */
  kind: 'multiply' | 'divide';
  headDim: number;
}

/**
 * softmax(q·kᵀ scaled + bias)·v for `q [B,h,S,d]`, `keyT [B,h,d,T]` (keys already transposed), `v [B,h,T,d]`.
 * Returns `[B,h,S,d]`.
 */
export function attend(g: GraphBuilder, q: string, keyT: string, v: string, scaling: AttentionScaling, bias?: string): string {
  const raw = g.node('MatMul', [q, keyT]);
  const scaled =
    scaling.kind === 'multiply'
      ? g.node('Mul', [raw, g.scalar(scaling.headDim ** -0.5)])
      : g.node('Div', [raw, g.scalar(Math.sqrt(scaling.headDim))]);
  const masked = bias === undefined ? scaled : g.node('Add', [scaled, bias]);
  const probs = g.node('Softmax', [masked], { axis: -1 });
  return g.node('MatMul', [probs, v]);
}

/** `[B,h,T,d]` → `[B,h,d,T]`. */
export function transposeKeys(g: GraphBuilder, k: string): string {
  return g.node('Transpose', [k], { perm: [0, 1, 3, 2] });
}
