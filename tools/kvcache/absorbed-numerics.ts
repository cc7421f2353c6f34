/**
 * Numerics of the absorbed cross-attention against the shipped forms on the same inputs: random E, per-layer Wk, bk,
 * Wv, bv and query. K and V are computed explicitly from E (E·W + b, as the converter's cross K/V graph does) and fed
 * to the converter's own `attend` (fp32) and `attendInt8` (K/V quantized per token and head with its
 * `quantizeSymmetric`); the absorbed forms get E (fp32, or int8 codes with one scale per token). Layers are chained as
 * in the probe. Every difference is reported against the shipped fp32 output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { attend, attendInt8, quantizeSymmetric } from '../../src/models/blip/convert/layers.ts';
import { randn } from '../profiling/probe-math.ts';
import { addAbsorbedLayer, attendAbsorbed, attendAbsorbedInt8, attendAbsorbedInt8Kq, attendAbsorbedKq, layerWeights, quantizePerToken, toOffsetBytes, transposeTokens, type AttentionShape, type LayerWeights } from './absorbed-attention.ts';

export interface NumericsOptions extends AttentionShape {
  layers: number;
  tokens: number;
  rows: number;
  /** Trailing image tokens masked (bias −10000, the runtime's MASKED) in every other row. */
  masked: number;
}

/** max |a − ref| and that over max |ref|. */
export interface Difference {
  maxAbs: number;
  relative: number;
}

export interface NumericsResult {
  /** max |out| of the shipped fp32 form. */
  magnitude: number;
  absorbed: Difference;
  /** absorbed with E as the GEMMs' A side. */
  absorbedKq: Difference;
  int8: Difference;
  absorbedInt8: Difference;
  /** absorbed-int8 with int8 Wk and Wv as well. */
  absorbedInt8w: Difference;
  /** absorbed-int8w with E's codes as the A side. */
  absorbedInt8wKq: Difference;
}

export function difference(a: Float32Array, ref: Float32Array): Difference {
  let maxAbs = 0;
  let top = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - ref[i]));
    top = Math.max(top, Math.abs(ref[i]));
  }
  return { maxAbs, relative: maxAbs / top };
}

type Graph = 'project' | 'fp32' | 'int8' | 'absorbed' | 'absorbed-kq' | 'absorbed-int8' | 'absorbed-int8w' | 'absorbed-int8w-kq';

function build(graph: Graph, o: NumericsOptions, weights: LayerWeights[], dir: string): Uint8Array {
  const { heads, headDim, tokens: m } = o;
  const width = heads * headDim;
  const g = new GraphBuilder(`check_${graph}`, new WeightFile(join(dir, `${graph}.data`)));
  if (graph === 'project') {
    // K = E·Wk + bk as [B,h,d,M] (transposed, as the decoder takes fp32 keys) and V = E·Wv + bv as [B,h,M,d].
    const e = g.input('e', 'float32', ['batch', m, width]);
    for (let l = 0; l < o.layers; l++) {
      const heads4 = (w: Float32Array, b: Float32Array, name: string) =>
        g.node('Reshape', [g.node('Add', [g.node('MatMul', [e, g.floats(`w${name}`, w, [width, width])]), g.floats(`b${name}`, b, [width])]), g.ints([0, 0, heads, headDim])]);
      g.output(g.node('Transpose', [heads4(weights[l].wk, weights[l].bk, `k${l}`)], { perm: [0, 2, 3, 1] }), `k${l}`, 'float32', ['batch', heads, headDim, m]);
      g.output(g.node('Transpose', [heads4(weights[l].wv, weights[l].bv, `v${l}`)], { perm: [0, 2, 1, 3] }), `v${l}`, 'float32', ['batch', heads, m, headDim]);
    }
    return g.encode('absorbed check: explicit K/V');
  }
  let q = g.input('q', 'float32', ['batch', heads, 1, headDim]);
  const bias = g.input('bias', 'float32', ['batch', 1, 1, m]);
  const scaling = { kind: 'divide' as const, headDim };
  const shape = { heads, headDim };
  if (graph.startsWith('absorbed')) {
    const int8 = graph.startsWith('absorbed-int8');
    const eType = graph === 'absorbed-int8w-kq' ? 'uint8' : int8 ? 'int8' : 'float32';
    const e = g.input('e', eType, ['batch', m, width]);
    const eT = graph === 'absorbed' ? g.node('Transpose', [e], { perm: [0, 2, 1] }) : g.input('et', eType, ['batch', width, m]);
    const scale = int8 ? g.input('es', 'float32', ['batch', 1, m]) : '';
    for (let l = 0; l < o.layers; l++) {
      const layer = addAbsorbedLayer(g, shape, weights[l], l, graph.startsWith('absorbed-int8w'));
      if (graph === 'absorbed-int8w-kq') q = attendAbsorbedInt8Kq(g, shape, q, { codes: e, codesT: eT, scale }, layer, bias);
      else if (int8) q = attendAbsorbedInt8(g, shape, q, { codes: e, codesT: eT, scale }, layer, bias);
      else q = (graph === 'absorbed' ? attendAbsorbed : attendAbsorbedKq)(g, shape, q, e, eT, layer, bias);
    }
  } else {
    for (let l = 0; l < o.layers; l++) {
      const k = g.input(`k${l}`, 'float32', ['batch', heads, headDim, m]);
      const v = g.input(`v${l}`, 'float32', ['batch', heads, m, headDim]);
      if (graph === 'fp32') {
        q = attend(g, q, k, v, scaling, bias);
      } else {
        // As the converter's cross K/V graph: one scale per (row, head, token) for keys and for values.
        const key = quantizeSymmetric(g, k, 2);
        const value = quantizeSymmetric(g, v, 3);
        const valueScale = g.node('Reshape', [value.scale, g.ints([0, 0, 1, -1])]);
        q = attendInt8(g, q, { keyT: key.codes, keyScale: key.scale, value: value.codes, valueScale }, scaling, bias);
      }
    }
  }
  g.output(q, 'out', 'float32', ['batch', heads, 1, headDim]);
  return g.encode(`absorbed check: ${graph}`);
}

/** Runs the eight graphs on one seeded set of inputs and compares the outputs with the shipped fp32 form's. */
export async function compareAbsorbed(o: NumericsOptions): Promise<NumericsResult> {
  const width = o.heads * o.headDim;
  const weights = Array.from({ length: o.layers }, (_, l) => layerWeights(o, l));
  const e = randn(o.rows * o.tokens * width, 300);
  const q = new ort.Tensor('float32', randn(o.rows * width, 7), [o.rows, o.heads, 1, o.headDim]);
  const biasData = new Float32Array(o.rows * o.tokens);
  for (let r = 1; r < o.rows; r += 2) biasData.fill(-10000, r * o.tokens + o.tokens - o.masked, (r + 1) * o.tokens);
  const bias = new ort.Tensor('float32', biasData, [o.rows, 1, 1, o.tokens]);
  const dir = await mkdtemp(join(tmpdir(), 'absorbed-check-'));
  try {
    const run = async (graph: Graph, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> => {
      const file = join(dir, `${graph}.onnx`);
      await writeFile(file, build(graph, o, weights, dir));
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
      try {
        return await session.run(feeds);
      } finally {
        await session.release();
      }
    };
    const kv = await run('project', { e: new ort.Tensor('float32', e, [o.rows, o.tokens, width]) });
    const out = async (graph: Graph, feeds: Record<string, ort.Tensor>) => (await run(graph, { q, bias, ...feeds })).out.data as Float32Array;
    const kvFeeds = Object.fromEntries(Object.entries(kv).map(([name, t]) => [name, t as ort.Tensor]));
    const reference = await out('fp32', kvFeeds);
    const quantized = quantizePerToken(e, width);
    const magnitude = reference.reduce((top, x) => Math.max(top, Math.abs(x)), 0);
    const int8E = {
      e: new ort.Tensor('int8', quantized.codes, [o.rows, o.tokens, width]),
      et: new ort.Tensor('int8', transposeTokens(quantized.codes, o.rows, o.tokens, width), [o.rows, width, o.tokens]),
      es: new ort.Tensor('float32', quantized.scale, [o.rows, 1, o.tokens]),
    };
    return {
      magnitude,
      absorbed: difference(await out('absorbed', { e: new ort.Tensor('float32', e, [o.rows, o.tokens, width]) }), reference),
      absorbedKq: difference(
        await out('absorbed-kq', {
          e: new ort.Tensor('float32', e, [o.rows, o.tokens, width]),
          et: new ort.Tensor('float32', transposeTokens(e, o.rows, o.tokens, width), [o.rows, width, o.tokens]),
        }),
        reference,
      ),
      int8: difference(await out('int8', kvFeeds), reference),
      absorbedInt8: difference(await out('absorbed-int8', int8E), reference),
      absorbedInt8w: difference(await out('absorbed-int8w', int8E), reference),
      absorbedInt8wKq: difference(
        await out('absorbed-int8w-kq', {
          ...int8E,
          e: new ort.Tensor('uint8', toOffsetBytes(quantized.codes), [o.rows, o.tokens, width]),
          et: new ort.Tensor('uint8', toOffsetBytes(int8E.et.data as Int8Array), [o.rows, width, o.tokens]),
        }),
        reference,
      ),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
