import { describe, expect, it } from 'vitest';
import { BlipModel } from '../../../../../../src/models/blip/runtime/blip-model.ts';
import { kvBytes, type CrossContext } from '../../../../../../src/models/blip/runtime/cross-context.ts';
import { generate, GenerationSession, resolveGenerationOptions, type GenerationOptions, type GenerationRequest } from '../../../../../../src/generation/generate.ts';
import { toPixelValues } from '../../../../../../src/models/blip/runtime/preprocess.ts';
import { decodeImage } from '../../../../../../src/image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../../../../src/config/defaults.ts';
import { readManifest, type VariantManifest } from '../../../../../../src/variant/manifest.ts';
import { IMAGE_NAMES, readImage } from '../../../../../helpers/fixtures.ts';
import { useFixtureVariantDirs } from '../../../../../helpers/converted-variant.ts';

/**
 * Each live cross-attention context is held once by the decoder: after it has been copied into a slot of the batch,
 * the decoder's own record of it holds no arrays (real decoder graph, tiny fixture model). Beams, several requests on
 * one image, a long prompt read from a slot, and a request joining after its image's earlier rows all left still get
 * exactly their tokens alone.
 */
interface Case {
  image: number;
  prompt: number[];
  options: GenerationOptions;
  joinAt: number;
}

function requestOf(manifest: VariantManifest, c: Case, context: number): GenerationRequest {
  const options = resolveGenerationOptions(c.options, manifest.generation, { maxPositions: manifest.dims.maxPositions, maxBeams: 16 });
  return { context, prompt: c.prompt, options, eosTokenId: manifest.tokenizer.ids.sep, padTokenId: manifest.tokenizer.ids.pad };
}

describe('cross-attention contexts held once', () => {
  const variants = useFixtureVariantDirs();

  it('drops a context’s own arrays once it is in a slot, and still decodes every request as alone', async () => {
    const manifest = await readManifest(variants.caption);
    const model = await BlipModel.load(variants.caption, manifest);
    try {
      const images = await Promise.all(IMAGE_NAMES.slice(0, 3).map((name) => decodeImage(readImage(name), DEFAULT_IMAGE_LIMITS)));
      const embeds = await model.encodeImages(toPixelValues(images, manifest.preprocess), images.length);
      const contexts: CrossContext[] = await model.crossContexts(embeds, images.length, model.imageTokens, images.map(() => model.imageTokens));
      const contextBytes = kvBytes(contexts[0]);
      expect(contextBytes).toBeGreaterThan(0);
      const { bos } = manifest.tokenizer.ids;
      const exact = (tokens: number, numBeams = 1): GenerationOptions => ({ maxNewTokens: tokens, minNewTokens: tokens, numBeams });
      const cases: Case[] = [
        { image: 0, prompt: [bos], options: exact(14), joinAt: 0 },
        { image: 1, prompt: [bos], options: exact(3, 3), joinAt: 0 },
        { image: 2, prompt: [bos], options: exact(5), joinAt: 1 },
        // Same image as the first, with a long prompt: its prefill reads the context from the running batch's slot.
        { image: 0, prompt: [bos, 120, 130], options: exact(4, 2), joinAt: 2 },
        // Image 1 again, after its beams have all left (its context lost its slots meanwhile, still registered).
        { image: 1, prompt: [bos], options: exact(3), joinAt: 9 },
      ];
      const alone = await Promise.all(
        cases.map(async (c) => {
          const decoder = model.createDecoder([contexts[c.image]]);
          const [sequence] = await generate(decoder, [requestOf(manifest, c, 0)]);
          decoder.dispose();
          return sequence;
        }),
      );

      // Like the engine's ContextTable: one registration per image, shared by its requests.
      const decoder = model.createDecoder([], { capacityHint: 8 });
      const session = new GenerationSession<number>(decoder);
      const ids = new Map<number, number>();
      const results: number[][] = new Array(cases.length);
      const outside: number[] = [];
      let step = 0;
      while (results.filter(Boolean).length < cases.length) {
        for (const { key, sequence } of session.advance()) {
          results[key] = sequence;
          // Released once no request will read it again (as the engine's ContextTable does).
          const image = cases[key].image;
          if (cases.every((c, i) => c.image !== image || results[i] !== undefined)) decoder.releaseContext(ids.get(image) as number);
        }
        cases.forEach((c, i) => {
          if (c.joinAt !== step) return;
          if (!ids.has(c.image)) ids.set(c.image, decoder.addContext(contexts[c.image]));
          session.add(i, requestOf(manifest, c, ids.get(c.image) as number));
        });
        if (session.size > 0) await session.decode();
        outside.push(decoder.contextBytesOutsideBatch);
        step++;
      }
      expect(results).toEqual(alone);
      // Every registered context was in a slot after each of the first steps: nothing held besides the batch.
      expect(outside.slice(0, 3)).toEqual([0, 0, 0]);
      // Image 1's beams left after 3 tokens; its context, still registered, got its own copy back until step 9 (image
      // 2's context, released when its request finished, did not).
      expect(outside[8]).toBe(contextBytes);
      expect(outside[9]).toBe(0);
      // The caller's contexts are untouched (the decoder drops its own record's arrays only).
      for (const context of contexts) expect(kvBytes(context)).toBe(contextBytes);
      decoder.dispose();
    } finally {
      await model.release();
    }
  });
});
