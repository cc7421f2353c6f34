import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import type { WeightLoader } from './weight-loader.ts';

// ONNX TensorProto element types used by Cast.
const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;

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

/**
 * `attend` over a past cache and the call's own positions without joining their keys or values: scores against the
 * past `[B,h,d,P]`-transposed keys and against the new keys are computed apart and concatenated (a few floats per
 * query), one softmax runs over both with `bias [B,1,S,P+S]`, and the two weighted sums of values are added. So no
 * tensor of the cache's size is created: the past is only read (BLIP's decoder step; README, "Self-attention cache").
 */
export function attendWithPast(
  g: GraphBuilder,
  q: string,
  past: { key: string; value: string },
  fresh: { key: string; value: string },
  scaling: AttentionScaling,
  bias: string,
): string {
  const raw = g.node('Concat', [g.node('MatMul', [q, transposeKeys(g, past.key)]), g.node('MatMul', [q, transposeKeys(g, fresh.key)])], { axis: 3 });
  const scaled =
    scaling.kind === 'multiply'
      ? g.node('Mul', [raw, g.scalar(scaling.headDim ** -0.5)])
      : g.node('Div', [raw, g.scalar(Math.sqrt(scaling.headDim))]);
  const probs = g.node('Softmax', [g.node('Add', [scaled, bias])], { axis: -1 });
  const pastColumns = g.node('Shape', [past.key], { start: 2, end: 3 });
  const pastProbs = g.node('Slice', [probs, g.ints([0]), pastColumns, g.ints([3])]);
  const freshProbs = g.node('Slice', [probs, pastColumns, g.ints([Number.MAX_SAFE_INTEGER]), g.ints([3])]);
  return g.node('Add', [g.node('MatMul', [pastProbs, past.value]), g.node('MatMul', [freshProbs, fresh.value])]);
}

/** `[B,h,T,d]` → `[B,h,d,T]`. */
export function transposeKeys(g: GraphBuilder, k: string): string {
  return g.node('Transpose', [k], { perm: [0, 1, 3, 2] });
}

/**
 * Symmetric int8 codes of `x` with one scale per slice along `axis` (e.g. per token and head of cross-attention
 * keys): `x ≈ codes · scale`, codes in [−127, 127], scale = max|x| / 127 with the reduced axis kept (size 1).
 */
export function quantizeSymmetric(g: GraphBuilder, x: string, axis: number): { codes: string; scale: string } {
  const maxAbs = g.node('ReduceMax', [g.node('Abs', [x])], { axes: [axis], keepdims: 1 });
  // An all-zero slice (padding) keeps codes 0 under a tiny positive scale instead of dividing by zero.
  const scale = g.node('Div', [g.node('Max', [maxAbs, g.scalar(1e-30)]), g.scalar(127)]);
  const codes = g.node('Cast', [g.node('Round', [g.node('Div', [x, scale])])], { to: INT8 });
  return { codes, scale };
}

/** Int8 cross-attention keys and values: codes and per-(row, head, token) scales, all `[B,h,1,M]` for the scales. */
export interface QuantizedKv {
  /** `[B,h,d,M]` int8. */
  keyT: string;
  /** `[B,h,1,M]` float: the scale of each key token. */
  keyScale: string;
  /** `[B,h,M,d]` int8. */
  value: string;
  /** `[B,h,1,M]` float: the scale of each value token. */
  valueScale: string;
}

/**
 * Unsigned 8-bit codes of `x` with one scale per row (last axis reduced) and one zero point for all: the activation
 * side of MatMulInteger, whose CPU kernel takes a single zero point for A. `signed` codes centre on 128 (x ≈ (c − 128)
 * · scale); non-negative `x` (probabilities) use the whole 0…255 range with zero point 0.
 */
export function quantizeRows(g: GraphBuilder, x: string, signed: boolean): { codes: string; scale: string; zeroPoint: string } {
  const top = g.node('ReduceMax', [signed ? g.node('Abs', [x]) : x], { axes: [-1], keepdims: 1 });
  const scale = g.node('Div', [g.node('Max', [top, g.scalar(1e-30)]), g.scalar(signed ? 127 : 255)]);
  const rounded = g.node('Round', [g.node('Div', [x, scale])]);
  const codes = g.node('Cast', [signed ? g.node('Add', [rounded, g.scalar(128)]) : rounded], { to: UINT8 });
  return { codes, scale, zeroPoint: g.byte(signed ? 128 : 0) };
}

/**
 * `attend` over int8 keys and values: q is quantized per row and head, q·Kᵀ runs as MatMulInteger (u8·s8, VNNI on
 * x86) and is rescaled by q's and each key's scale; the probabilities are multiplied by each value token's scale,
 * quantized per row and head, and P·V runs as MatMulInteger too. Reads one byte per cached K/V element instead of four.
 */
export function attendInt8(g: GraphBuilder, q: string, kv: QuantizedKv, scaling: AttentionScaling, bias?: string): string {
  const qq = quantizeRows(g, q, true);
  const raw = g.node('Cast', [g.node('MatMulInteger', [qq.codes, kv.keyT, qq.zeroPoint])], { to: FLOAT });
  const factor = scaling.kind === 'multiply' ? scaling.headDim ** -0.5 : 1 / Math.sqrt(scaling.headDim);
  const scaled = g.node('Mul', [raw, g.node('Mul', [g.node('Mul', [qq.scale, g.scalar(factor)]), kv.keyScale])]);
  const masked = bias === undefined ? scaled : g.node('Add', [scaled, bias]);
  const probs = g.node('Softmax', [masked], { axis: -1 });
  const weighted = quantizeRows(g, g.node('Mul', [probs, kv.valueScale]), false);
  const context = g.node('Cast', [g.node('MatMulInteger', [weighted.codes, kv.value, weighted.zeroPoint])], { to: FLOAT });
  return g.node('Mul', [context, weighted.scale]);
}
