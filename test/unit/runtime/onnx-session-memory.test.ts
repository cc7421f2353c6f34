import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VISION_INPUT, VISION_OUTPUT } from '../../../src/models/blip/graph-names.ts';
import { floatData, floatTensor, OnnxSession, type SessionMemoryOptions } from '../../../src/runtime/onnx-session.ts';
import { readManifest } from '../../../src/variant/manifest.ts';
import { useFixtureVariantDirs } from '../../helpers/converted-variant.ts';

/**
 * ONNX Runtime's memory settings change where tensors live, never what a graph computes: the tiny vision encoder
 * gives bit-identical outputs under each of them (real sessions).
 */
describe('OnnxSession memory settings', () => {
  const variants = useFixtureVariantDirs();

  it('every setting gives the same embeddings, bit for bit', async () => {
    const manifest = await readManifest(variants.caption);
    const { width, height } = manifest.preprocess;
    const pixels = Float32Array.from({ length: 2 * 3 * width * height }, (_, i) => Math.sin(i) * 0.5);
    const settings: SessionMemoryOptions[] = [{}, { cpuArena: true, memoryPattern: true }, { prepacking: false }];
    const outputs: Float32Array[] = [];
    for (const memory of settings) {
      const session = await OnnxSession.load(join(variants.caption, manifest.graphs.vision), { memory, allowSpinning: false });
      try {
        // Twice: the arena and the memory pattern reuse blocks from the first run.
        await session.run({ [VISION_INPUT]: floatTensor(pixels, [2, 3, height, width]) });
        const out = await session.run({ [VISION_INPUT]: floatTensor(pixels, [2, 3, height, width]) });
        outputs.push(floatData(out[VISION_OUTPUT]).slice());
      } finally {
        await session.release();
      }
    }
    expect(outputs[0].length).toBe(2 * manifest.dims.imageTokens * manifest.dims.visionHidden);
    expect(outputs[1]).toEqual(outputs[0]);
    expect(outputs[2]).toEqual(outputs[0]);
  });
});
