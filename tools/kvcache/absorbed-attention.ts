/**
 * "Absorbed" cross-attention: one decoder layer's cross-attention computed from the image embedding E `[B,M,D]`
 * (D = heads · headDim) instead of that layer's keys and values. With K_h = E·Wk_h + bk_h and V_h = E·Wv_h + bv_h:
 *   - scores_h = q_h·K_hᵀ = (q_h·Wk_hᵀ)·Eᵀ + q_h·bk_h, and the last term is one constant per (row, head), which the
 *     softmax removes, so bk is never needed;
 *   - out_h = p_h·V_h = (p_h·E)·Wv_h + bv_h, because each row of probabilities sums to 1.
 * A row then reads E once for all layers instead of every layer's K and V, at about 12× the attention arithmetic
 * (the scores and P·E products are [h × D]·[D × M] and [h × M]·[M × D] per row). Used by cross-attention-probe.ts
 * and absorbed-check.ts; nothing in src/ uses it.
 */
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { quantizeRows, quantizeSymmetric } from '../../src/models/blip/convert/layers.ts';
import { randn } from '../profiling/probe-math.ts';

/** Cross-attention shape: `heads` of `headDim`, model width `heads · headDim`. */
export interface AttentionShape {
  heads: number;
  headDim: number;
}

/** One layer's projection weights, laid out as the graphs and the explicit K/V computation read them. */
export interface LayerWeights {
  /** `[D, D]`: column `h·d + j` is output j of head h (K = E·Wk + bk). */
  wk: Float32Array;
  /** `[h, d]`. */
  bk: Float32Array;
  /** `[D, D]`, as wk. */
  wv: Float32Array;
  /** `[h, d]`. */
  bv: Float32Array;
}

/** Seeded random weights of a unit-variance projection (entries N(0, 1/D)), so K and V of a N(0,1) E are N(0,1)-ish. */
export function layerWeights(shape: AttentionShape, layer: number): LayerWeights {
  const width = shape.heads * shape.headDim;
  const scaled = (x: Float32Array, s: number) => x.map((v) => v * s);
  return {
    wk: scaled(randn(width * width, 1000 + layer), 1 / Math.sqrt(width)),
    bk: scaled(randn(width, 2000 + layer), 0.1),
    wv: scaled(randn(width * width, 3000 + layer), 1 / Math.sqrt(width)),
    bv: scaled(randn(width, 4000 + layer), 0.1),
  };
}

/**
 * The constants the absorbed graph multiplies by: Wk as `[h, d, D]` (each head's Wk_hᵀ) with the 1/√d score scaling
 * folded in (a power of two for d = 64, so exact), and Wv as `[h, D, d]` (each head's Wv_h).
 */
export function absorbedConstants(shape: AttentionShape, w: LayerWeights): { wkT: Float32Array; wv: Float32Array } {
  const { heads, headDim } = shape;
  const width = heads * headDim;
  const factor = 1 / Math.sqrt(headDim);
  const wkT = new Float32Array(width * width);
  const wv = new Float32Array(width * width);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < headDim; j++) {
      for (let c = 0; c < width; c++) {
        wkT[(h * headDim + j) * width + c] = w.wk[c * width + h * headDim + j] * factor;
        wv[(h * width + c) * headDim + j] = w.wv[c * width + h * headDim + j];
      }
    }
  }
  return { wkT, wv };
}

/** Per-layer constant names of an absorbed graph. */
export interface AbsorbedLayer {
  /** `[h, d, D]`. */
  wkT: string;
  /** `[h, D, d]`. */
  wv: string;
  /** `[h, d]`. */
  bv: string;
  /** Int8 codes of wkT and wv with one scale per output column (`[h,1,D]`, `[h,1,d]`), when the layer has them. */
  int8?: { wkT: string; wkScale: string; wv: string; wvScale: string };
}

/**
 * Symmetric int8 codes of a `[h, K, N]` weight with one scale per (head, output column), returned as float-valued
 * codes (the GraphBuilder has no int8 initializer; a Cast of a constant is folded when the session is created).
 */
export function quantizeColumns(w: Float32Array, heads: number, k: number, n: number): { codes: Float32Array; scale: Float32Array } {
  const codes = new Float32Array(w.length);
  const scale = new Float32Array(heads * n);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < n; j++) {
      let top = 0;
      for (let i = 0; i < k; i++) top = Math.max(top, Math.abs(w[(h * k + i) * n + j]));
      const s = Math.max(top, 1e-30) / 127;
      scale[h * n + j] = s;
      for (let i = 0; i < k; i++) codes[(h * k + i) * n + j] = Math.round(w[(h * k + i) * n + j] / s);
    }
  }
  return { codes, scale };
}

/**
 * Adds one layer's constants to `g` (names prefixed by the layer); with `int8Weights`, also the int8 codes the
 * absorbed-int8w form multiplies by (as an int8 model quantizes every constant-weight MatMul).
 */
export function addAbsorbedLayer(g: GraphBuilder, shape: AttentionShape, w: LayerWeights, layer: number, int8Weights = false): AbsorbedLayer {
  const { heads, headDim } = shape;
  const width = heads * headDim;
  const c = absorbedConstants(shape, w);
  const bv = g.floats(`bv${layer}`, w.bv, [heads, headDim]);
  if (!int8Weights) return { wkT: g.floats(`wkT${layer}`, c.wkT, [heads, headDim, width]), wv: g.floats(`wv${layer}`, c.wv, [heads, width, headDim]), bv };
  const k = quantizeColumns(c.wkT, heads, headDim, width);
  const v = quantizeColumns(c.wv, heads, width, headDim);
  const int8 = (name: string, codes: Float32Array, dims: number[]) => g.node('Cast', [g.floats(name, codes, dims)], { to: 3 });
  // The fp32 names stay empty: every product of this layer reads the int8 codes.
  return {
    wkT: '',
    wv: '',
    bv,
    int8: {
      wkT: int8(`wkTq${layer}`, k.codes, [heads, headDim, width]),
      wkScale: g.floats(`wkTs${layer}`, k.scale, [heads, 1, width]),
      wv: int8(`wvq${layer}`, v.codes, [heads, width, headDim]),
      wvScale: g.floats(`wvs${layer}`, v.scale, [heads, 1, headDim]),
    },
  };
}

/** `[h,B,K]` · a constant `[h,K,N]`: fp32 MatMul, or MatMulInteger over the layer's int8 codes when `int8` is given. */
function weightProduct(g: GraphBuilder, x: string, weight: string, int8?: { codes: string; scale: string }): string {
  if (int8 === undefined) return g.node('MatMul', [x, weight]);
  const xq = quantizeRows(g, x, true);
  const product = g.node('Cast', [g.node('MatMulInteger', [xq.codes, int8.codes, xq.zeroPoint])], { to: 1 });
  return g.node('Mul', [product, g.node('Mul', [xq.scale, int8.scale])]);
}

/**
 * q `[B,h,1,d]` → Q' = q_h·Wk_hᵀ/√d, `[B,h,D]`. The rows go to the GEMM's M side (`[h,B,d]·[h,d,D]`), so each head's
 * weight slice is read once per call, not once per row.
 */
function absorbQuery(g: GraphBuilder, shape: AttentionShape, q: string, layer: AbsorbedLayer): string {
  const headsFirst = g.node('Transpose', [g.node('Reshape', [q, g.ints([0, shape.heads, shape.headDim])])], { perm: [1, 0, 2] });
  const int8 = layer.int8 === undefined ? undefined : { codes: layer.int8.wkT, scale: layer.int8.wkScale };
  return g.node('Transpose', [weightProduct(g, headsFirst, layer.wkT, int8)], { perm: [1, 0, 2] });
}

/** C `[B,h,D]` (each head's p_h·E) → out_h = C_h·Wv_h + bv_h, `[B,h,1,d]`, the shape the other forms output. */
function projectValues(g: GraphBuilder, shape: AttentionShape, context: string, layer: AbsorbedLayer): string {
  const headsFirst = g.node('Transpose', [context], { perm: [1, 0, 2] });
  const int8 = layer.int8 === undefined ? undefined : { codes: layer.int8.wv, scale: layer.int8.wvScale };
  const out = g.node('Transpose', [weightProduct(g, headsFirst, layer.wv, int8)], { perm: [1, 0, 2] });
  return g.node('Reshape', [g.node('Add', [out, layer.bv]), g.ints([0, shape.heads, 1, shape.headDim])]);
}

/**
 * fp32 absorbed cross-attention of one layer. `eT` is E transposed `[B,D,M]` (made once per call and shared by the
 * layers), `e` is E `[B,M,D]`, `bias` the cross bias `[B,1,1,M]`; returns `[B,h,1,d]`.
 */
export function attendAbsorbed(g: GraphBuilder, shape: AttentionShape, q: string, e: string, eT: string, layer: AbsorbedLayer, bias: string): string {
  const scores = g.node('MatMul', [absorbQuery(g, shape, q, layer), eT]);
  const probs = g.node('Softmax', [g.node('Add', [scores, g.node('Reshape', [bias, g.ints([0, 1, -1])])])], { axis: -1 });
  return projectValues(g, shape, g.node('MatMul', [probs, e]), layer);
}

/**
 * `attendAbsorbed` with E as the GEMMs' A side and the 12 query rows as a small B (the "kq" layout of the K/V probe
 * forms): scoresᵀ = E·Q'ᵀ `[B,M,h]`, contextᵀ = Eᵀ·Pᵀ `[B,D,h]`. MLAS packs only B, so E (`e` `[B,M,D]`, `eT`
 * `[B,D,M]`, both fed) is streamed once per product instead of being packed as a 1.8 MB B panel for 12 rows.
 */
export function attendAbsorbedKq(g: GraphBuilder, shape: AttentionShape, q: string, e: string, eT: string, layer: AbsorbedLayer, bias: string): string {
  const queryT = g.node('Transpose', [absorbQuery(g, shape, q, layer)], { perm: [0, 2, 1] });
  const scores = g.node('MatMul', [e, queryT]);
  const probsT = g.node('Softmax', [g.node('Add', [scores, g.node('Reshape', [bias, g.ints([0, -1, 1])])])], { axis: 1 });
  const context = g.node('Transpose', [g.node('MatMul', [eT, probsT])], { perm: [0, 2, 1] });
  return projectValues(g, shape, context, layer);
}

/** Int8 E: codes `[B,M,D]` and `[B,D,M]` (the two GEMM B sides) and one scale per token, `[B,1,M]`. */
export interface QuantizedE {
  codes: string;
  codesT: string;
  scale: string;
}


/**
 * Absorbed cross-attention over int8 E: Q' is quantized per (row, head) and Q'·Eᵀ runs as MatMulInteger (u8·s8),
 * rescaled by Q''s scale and each token's; the probabilities times each token's scale are quantized per (row, head)
 * and P·E runs as MatMulInteger too. The two constant-weight products ([h × d]·[d × D] per row) are fp32, or
 * MatMulInteger over int8 weights if the layer was added with them (absorbed-int8w).
 */
export function attendAbsorbedInt8(g: GraphBuilder, shape: AttentionShape, q: string, e: QuantizedE, layer: AbsorbedLayer, bias: string): string {
  const qq = quantizeRows(g, absorbQuery(g, shape, q, layer), true);
  const raw = g.node('Cast', [g.node('MatMulInteger', [qq.codes, e.codesT, qq.zeroPoint])], { to: 1 });
  const scores = g.node('Mul', [raw, g.node('Mul', [qq.scale, e.scale])]);
  const probs = g.node('Softmax', [g.node('Add', [scores, g.node('Reshape', [bias, g.ints([0, 1, -1])])])], { axis: -1 });
  const weighted = quantizeRows(g, g.node('Mul', [probs, e.scale]), false);
  const context = g.node('Cast', [g.node('MatMulInteger', [weighted.codes, e.codes, weighted.zeroPoint])], { to: 1 });
  return projectValues(g, shape, g.node('Mul', [context, weighted.scale]), layer);
}

/**
 * `attendAbsorbedInt8` in the kq layout: E's codes are MatMulInteger's A side (u8, zero point 128: `codes` `[B,M,D]`
 * and `codesT` `[B,D,M]`), the quantized Q'ᵀ and Pᵀ the small s8 B side (one scale per head). scoresᵀ = E·Q'ᵀ,
 * contextᵀ = Eᵀ·Pᵀ, softmax over the token axis. Uses the layer's int8 weights if it has them.
 */
export function attendAbsorbedInt8Kq(g: GraphBuilder, shape: AttentionShape, q: string, e: QuantizedE, layer: AbsorbedLayer, bias: string): string {
  const qq = quantizeSymmetric(g, absorbQuery(g, shape, q, layer), 2);
  const raw = g.node('Cast', [g.node('MatMulInteger', [e.codes, g.node('Transpose', [qq.codes], { perm: [0, 2, 1] }), g.byte(128)])], { to: 1 });
  const tokenScale = g.node('Reshape', [e.scale, g.ints([0, -1, 1])]);
  const scores = g.node('Mul', [raw, g.node('Mul', [g.node('Transpose', [qq.scale], { perm: [0, 2, 1] }), tokenScale])]);
  const probsT = g.node('Softmax', [g.node('Add', [scores, g.node('Reshape', [bias, g.ints([0, -1, 1])])])], { axis: 1 });
  const weighted = quantizeSymmetric(g, g.node('Mul', [probsT, tokenScale]), 1);
  const contextT = g.node('Mul', [g.node('Cast', [g.node('MatMulInteger', [e.codesT, weighted.codes, g.byte(128)])], { to: 1 }), weighted.scale]);
  return projectValues(g, shape, g.node('Transpose', [contextT], { perm: [0, 2, 1] }), layer);
}

/** Int8 codes as unsigned bytes with zero point 128 (the A side of the kq forms). */
export function toOffsetBytes(codes: Int8Array): Uint8Array {
  return Uint8Array.from(codes, (c) => c + 128);
}

/** E as int8 codes with one scale per token (max|x|/127), `codes [rows·M·D]`, `scale [rows·M]`. */
export function quantizePerToken(e: Float32Array, width: number): { codes: Int8Array; scale: Float32Array } {
  const count = e.length / width;
  const codes = new Int8Array(e.length);
  const scale = new Float32Array(count);
  for (let t = 0; t < count; t++) {
    let top = 0;
    for (let c = 0; c < width; c++) top = Math.max(top, Math.abs(e[t * width + c]));
    const s = Math.max(top, 1e-30) / 127;
    scale[t] = s;
    for (let c = 0; c < width; c++) codes[t * width + c] = Math.round(e[t * width + c] / s);
  }
  return { codes, scale };
}

/**
 * `[rows, M, D]` → `[rows, D, M]`: E is fed in both layouts where both GEMM sides need it (a converter would emit both
 * from the vision graph); for int8, ORT's Transpose in the graph cost ~3.7 ms per call at 16 rows (profiled).
 */
export function transposeTokens<T extends Int8Array | Float32Array>(x: T, rows: number, tokens: number, width: number): T {
  const out = x.slice() as T;
  for (let r = 0; r < rows; r++) {
    const base = r * tokens * width;
    for (let t = 0; t < tokens; t++) for (let c = 0; c < width; c++) out[base + c * tokens + t] = x[base + t * width + c];
  }
  return out;
}
