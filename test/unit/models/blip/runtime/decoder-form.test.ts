import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipModel } from '../../../../../src/models/blip/runtime/blip-model.ts';
import { ErrorCode } from '../../../../../src/errors.ts';
import { GraphBuilder } from '../../../../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../../../../src/onnx/weight-file.ts';
import { readManifest } from '../../../../../src/variant/manifest.ts';
import { CAPTION_CHECKPOINT, convertFixture, type TempVariant } from '../../../../helpers/fixtures.ts';

/**
 * A folder converted before converter version 5 has a decoder graph that returns the whole self-attention cache
 * (`present_key_i`), which this runtime no longer feeds: loading it must fail at once with MODEL_LOAD_FAILED and say
 * what to do, not at the first request with an ONNX Runtime message about a missing input.
 */
describe('decoder graph form', () => {
  let variant: TempVariant;
  beforeAll(async () => {
    variant = await convertFixture(CAPTION_CHECKPOINT);
  });
  afterAll(async () => {
    await variant?.cleanup();
  });

  it('refuses a decoder graph that returns present_key_i instead of new_key_i, naming the fix', async () => {
    const manifest = await readManifest(variant.dir);
    // The old contract's outputs, on a graph small enough to write here.
    const g = new GraphBuilder('text_decoder', new WeightFile(join(variant.dir, 'old_decoder.onnx.data')));
    const past = g.input('past_key_0', 'float32', ['past_batch', 4, 'past_sequence', 8]);
    g.output(past, 'present_key_0', 'float32', ['past_batch', 4, 'past_sequence', 8]);
    await writeFile(join(variant.dir, 'old_decoder.onnx'), g.encode('a converter version 4 decoder step, outputs only'));
    // Without `optimized`, the original graph files are loaded.
    const old = { ...manifest, optimized: undefined, graphs: { ...manifest.graphs, decoder: 'old_decoder.onnx' }, converter: { ...manifest.converter, version: '4' } };
    const loading = BlipModel.load(variant.dir, old, {}, () => {});
    await expect(loading).rejects.toMatchObject({ code: ErrorCode.MODEL_LOAD_FAILED });
    await expect(loading).rejects.toThrow(/converter version 4\) returns the whole self-attention cache, which this runtime does not read; convert the variant again/);
    // The same folder with its own decoder loads.
    const model = await BlipModel.load(variant.dir, manifest);
    await model.release();
  });
});
