import { describe, expect, it } from 'vitest';
import { blipFamily } from '../../../../src/models/blip/family.ts';
import { BLIP_MEMORY_DEFAULTS, blipWorkingMemory, FIXED_OVERHEAD_BYTES } from '../../../../src/models/blip/working-memory.ts';
import { crossContextBytes, selfAttentionBytes } from '../../../../src/models/blip/runtime/decode-bytes.ts';
import { MAX_BEAMS } from '../../../../src/models/blip/engine/request-plan.ts';
import type { VariantManifest } from '../../../../src/variant/manifest.ts';
import { DEFAULT_BATCHING } from '../../../../src/registry/variant-config.ts';

/** Only what the bound reads: 2 text layers of width 16, 5 image tokens of width 128 (2 vision heads of 64), 10 positions. */
function manifest(task: 'caption' | 'vqa', crossKvPrecision?: string): VariantManifest {
  return {
    task,
    dims: { imageTokens: 5, visionHidden: 128, textHidden: 16, textLayers: 2, textHeads: 2, vocabSize: 50, maxPositions: 10 },
    preprocess: { width: 8, height: 8 },
    tokenizer: { maxLength: 7 },
    ...(crossKvPrecision ? { crossKvPrecision } : {}),
  } as unknown as VariantManifest;
}

describe('BLIP working-memory bound', () => {
  it('cross-attention context: keys and values of every layer over M positions, plus the mask, in the K/V precision', () => {
    // 2 (K and V) × 2 layers × 16 × 5 positions × 4 bytes + 5 × 4 bytes of mask.
    expect(crossContextBytes(manifest('caption'), 5)).toBe(1280 + 20);
    expect(crossContextBytes(manifest('caption', 'fp16'), 5)).toBe(640 + 20);
    // int8 codes, plus one fp32 scale per layer, head and position for keys and for values: 2 × 2 × 2 × 5 × 4.
    expect(crossContextBytes(manifest('caption', 'int8'), 5)).toBe(320 + 160 + 20);
  });

  it('self-attention cache: fp32 keys and values of every layer at the given columns', () => {
    expect(selfAttentionBytes(manifest('caption'), 10)).toBe(2 * 2 * 16 * 10 * 4);
  });

  it('sums rows × per-row bytes, vision batch × activations, admitted images, the cache and the fixed overhead', () => {
    const bound = blipWorkingMemory(manifest('caption'), { maxRows: 20, maxAdmitPerStep: 4, maxGroupItems: 4, maxVisionBatch: 2, embeddingCacheBytes: 1000 });
    // Per row: one copy of its 1300-byte context (its slot) and two of its 2560-byte cache at 10 positions.
    const perRow = 1300 + 2 * 2560;
    // Per image in the encoder: activations 4 × (3 × 2 heads × 5² + 4 × 5 × 4 × 128); pixels 4 × 3 × 8 × 8 and
    // embedding 4 × 5 × 128 for each image admitted in one pass, and its context until it is copied into a slot.
    const activations = 4 * (150 + 10_240);
    expect(bound.parts).toEqual({ rows: 20 * perRow, visionBatch: 2 * activations, admittedImages: 4 * (768 + 2560 + 1300), embeddingCache: 1000, fixed: FIXED_OVERHEAD_BYTES });
    expect(bound.totalBytes).toBe(20 * 6420 + 2 * 41_560 + 4 * 4628 + 1000 + FIXED_OVERHEAD_BYTES);
  });

  it('counts the images of a whole submitted group when it is larger than maxAdmitPerStep (a group is never split)', () => {
    const settings = { maxRows: 20, maxAdmitPerStep: 4, maxVisionBatch: 2, embeddingCacheBytes: 1000 };
    expect(blipWorkingMemory(manifest('caption'), { ...settings, maxGroupItems: 6 }).parts.admittedImages).toBe(6 * 4628);
    expect(blipWorkingMemory(manifest('caption'), { ...settings, maxGroupItems: 2 }).parts.admittedImages).toBe(4 * 4628);
    // Without the setting: the gateway's default DataLoader batch, 8, against the default 4 per step.
    expect(BLIP_MEMORY_DEFAULTS).toMatchObject({ maxAdmitPerStep: 4, maxGroupItems: DEFAULT_BATCHING.maxBatchSize });
    expect(blipWorkingMemory(manifest('caption'), { maxRows: 20, maxVisionBatch: 2, embeddingCacheBytes: 1000 }).parts.admittedImages).toBe(8 * 4628);
  });

  it('counts MAX_BEAMS rows when maxRows is smaller: a wider beam request still runs, alone', () => {
    expect(MAX_BEAMS).toBe(16);
    expect(blipWorkingMemory(manifest('caption'), { maxRows: 3 }).parts.rows).toBe(16 * 6420);
    expect(blipWorkingMemory(manifest('caption'), { maxRows: 17 }).parts.rows).toBe(17 * 6420);
  });

  it('a VQA context spans the longest question the tokenizer allows, not the image', () => {
    const bound = blipWorkingMemory(manifest('vqa'), { maxRows: 1, maxVisionBatch: 1, embeddingCacheBytes: 0 });
    expect(bound.parts.rows).toBe(16 * (crossContextBytes(manifest('vqa'), 7) + 2 * 2560));
    expect(crossContextBytes(manifest('vqa'), 7)).toBe(2 * 2 * 16 * 7 * 4 + 7 * 4);
  });

  it('applies the runtime defaults for settings left out, and is what the family reports', () => {
    const bound = blipWorkingMemory(manifest('caption'));
    expect(bound).toEqual(blipWorkingMemory(manifest('caption'), { ...BLIP_MEMORY_DEFAULTS }));
    expect(bound.parts.rows).toBe(16 * 6420);
    expect(bound.parts.embeddingCache).toBe(64 * 1024 * 1024);
    expect(blipFamily.workingMemory(manifest('caption'), { maxRows: 3 })).toEqual(blipWorkingMemory(manifest('caption'), { maxRows: 3 }));
  });
});
