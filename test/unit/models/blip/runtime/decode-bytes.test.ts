import { describe, expect, it } from 'vitest';
import { decodeStepBytes, type DecodeBytesManifest } from '../../../../../src/models/blip/runtime/decode-bytes.ts';

/** blip-base's text dimensions, with a decoder weight file of `dataBytes`. */
function manifest(dataBytes: number, crossKvPrecision?: 'int8'): DecodeBytesManifest {
  return {
    name: 'base',
    graphs: { vision: 'v.onnx', crossKv: 'c.onnx', decoder: 'text_decoder.onnx' },
    files: { 'text_decoder.onnx.data': { bytes: dataBytes, sha256: '0'.repeat(64) } },
    dims: { imageTokens: 577, visionHidden: 768, textHidden: 768, textLayers: 12, textHeads: 12, vocabSize: 30524, maxPositions: 512 },
    ...(crossKvPrecision ? { crossKvPrecision } : {}),
  };
}

describe('decodeStepBytes', () => {
  const tables = (30524 + 512) * 768 * 4;

  it('counts the weights less the embedding tables once, and fp32 cross K/V per row (42.5 MB at blip-base)', () => {
    const one = decodeStepBytes(manifest(tables + 400e6), 1, 10);
    expect(one.weights).toBe(400e6);
    // K and V of 12 layers over 577 tokens (the 42.5 MB per row the issue quotes), and the row's attention mask.
    expect(one.crossKv).toBe(12 * 2 * 577 * 768 * 4 + 577 * 4);
    expect(one.crossKv / 1e6).toBeCloseTo(42.5, 1);
    // The cache buffer of 10 columns, keys and values of 12 layers, read once.
    expect(one.selfCache).toBe(12 * 2 * 10 * 768 * 4);
    const sixteen = decodeStepBytes(manifest(tables + 400e6), 16, 10);
    expect(sixteen.weights).toBe(400e6);
    expect(sixteen.crossKv).toBe(16 * one.crossKv);
    expect(sixteen.selfCache).toBe(16 * one.selfCache);
    expect(sixteen.total).toBe(sixteen.weights + sixteen.crossKv + sixteen.selfCache);
  });

  it('counts one byte per int8 K/V element plus a float scale per token and head', () => {
    const int8 = decodeStepBytes(manifest(tables + 100e6, 'int8'), 4, 10);
    expect(int8.crossKv).toBe(4 * (12 * 577 * 2 * (768 + 12 * 4) + 577 * 4));
  });

  it('reads the encoder length it is given (VQA questions)', () => {
    expect(decodeStepBytes(manifest(tables, 'int8'), 1, 0, 9).crossKv).toBe(12 * 9 * 2 * (768 + 48) + 9 * 4);
  });
});
