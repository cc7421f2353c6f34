import { describe, expect, it } from 'vitest';
import { absorbedConstants, layerWeights, quantizePerToken, transposeTokens } from '../../../tools/kvcache/absorbed-attention.ts';
import { compareAbsorbed } from '../../../tools/kvcache/absorbed-numerics.ts';
import { randn } from '../../../tools/profiling/probe-math.ts';

describe('absorbed cross-attention (tools/kvcache)', () => {
  it('computes what attention over explicit K = E·Wk + bk, V = E·Wv + bv computes, masked tokens included', async () => {
    // Real ORT sessions: the converter's attend / attendInt8 on explicit K/V against the absorbed graphs on E alone.
    const result = await compareAbsorbed({ heads: 3, headDim: 16, layers: 2, tokens: 40, rows: 4, masked: 15 });
    expect(result.magnitude).toBeGreaterThan(0.1);
    // fp32: the same function up to float rounding (bk dropped, bv added after the weighted sum).
    expect(result.absorbed.relative).toBeLessThan(1e-5);
    expect(result.absorbedKq.relative).toBeLessThan(1e-5);
    // int8: quantization error of the order of the shipped int8 form's, not a different function.
    expect(result.int8.relative).toBeGreaterThan(0);
    expect(result.absorbedInt8.relative).toBeGreaterThan(0);
    for (const d of [result.absorbedInt8, result.absorbedInt8w, result.absorbedInt8wKq]) expect(d.relative).toBeLessThan(Math.max(0.05, 4 * result.int8.relative));
  });

  it('lays out each head’s Wkᵀ (scaled by 1/√d) and Wv as the graph multiplies them', () => {
    const shape = { heads: 2, headDim: 4 };
    const w = layerWeights(shape, 0);
    const { wkT, wv } = absorbedConstants(shape, w);
    const width = 8;
    // Head 1, output 2, model column 5: Wk[5, 1·4 + 2] / 2 and Wv[5, 1·4 + 2].
    expect(wkT[(1 * 4 + 2) * width + 5]).toBe(w.wk[5 * width + 6] / 2);
    expect(wv[(1 * width + 5) * 4 + 2]).toBe(w.wv[5 * width + 6]);
  });

  it('quantizes E per token within half a step and transposes the codes', () => {
    const width = 5;
    const e = randn(3 * width, 9);
    const { codes, scale } = quantizePerToken(e, width);
    for (let t = 0; t < 3; t++) {
      const row = Array.from(codes.slice(t * width, (t + 1) * width));
      expect(Math.max(...row.map(Math.abs))).toBe(127);
      for (let c = 0; c < width; c++) expect(Math.abs(codes[t * width + c] * scale[t] - e[t * width + c])).toBeLessThanOrEqual(scale[t] / 2 + 1e-7);
    }
    const transposed = transposeTokens(codes, 1, 3, width);
    expect(transposed[4 * 3 + 2]).toBe(codes[2 * width + 4]);
  });
});
