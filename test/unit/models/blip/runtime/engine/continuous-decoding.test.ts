import { describe, expect, it } from 'vitest';
import { BlipModel } from '../../../../../../src/models/blip/runtime/blip-model.ts';
import type { CrossContext } from '../../../../../../src/models/blip/runtime/cross-context.ts';
import { generate, GenerationSession, resolveGenerationOptions, type GenerationOptions, type GenerationRequest } from '../../../../../../src/generation/generate.ts';
import { toPixelValues } from '../../../../../../src/models/blip/runtime/preprocess.ts';
import { decodeImage } from '../../../../../../src/image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../../../../src/config/defaults.ts';
import { readManifest, type VariantManifest } from '../../../../../../src/variant/manifest.ts';
import { createRandom } from '../../../../generation/fake-decoder.ts';
import { IMAGE_NAMES, maxAbsDiff, readImage } from '../../../../../helpers/fixtures.ts';
import { useFixtureVariantDirs } from '../../../../../helpers/converted-variant.ts';

/**
 * Continuous batching on the real decoder graph (tiny fixture models): requests that join a running decoding at
 * random steps, with prompts (captioning) or questions (VQA) of different lengths, greedy and beam search mixed,
 * get exactly the sequence they get alone.
 */
interface Case {
  context: number;
  prompt: number[];
  options: GenerationOptions;
  joinAt: number;
}

async function imageContexts(model: BlipModel, manifest: VariantManifest): Promise<{ embeds: Float32Array; contexts: CrossContext[] }> {
  const images = await Promise.all(IMAGE_NAMES.map((name) => decodeImage(readImage(name), DEFAULT_IMAGE_LIMITS)));
  const embeds = await model.encodeImages(toPixelValues(images, manifest.preprocess), images.length);
  const contexts = await model.crossContexts(embeds, images.length, model.imageTokens, images.map(() => model.imageTokens));
  return { embeds, contexts };
}

function randomCases(seed: number, count: number, manifest: VariantManifest, contexts: number, promptLength: () => number): Case[] {
  const random = createRandom(seed);
  const { bos } = manifest.tokenizer.ids;
  return Array.from({ length: count }, () => {
    const prompt = [bos, ...Array.from({ length: promptLength() - 1 }, () => 110 + Math.floor(random() * 150))];
    const numBeams = random() < 0.4 ? 2 + Math.floor(random() * 3) : 1;
    const maxNewTokens = 2 + Math.floor(random() * 10);
    // Half of the requests cannot stop early, so some rows stay long while others come and go.
    const minNewTokens = random() < 0.5 ? maxNewTokens : 0;
    return { context: Math.floor(random() * contexts), prompt, options: { numBeams, maxNewTokens, minNewTokens }, joinAt: Math.floor(random() * 14) };
  });
}

function requestOf(manifest: VariantManifest, c: Case, context: number): GenerationRequest {
  const options = resolveGenerationOptions(c.options, manifest.generation, { maxPositions: manifest.dims.maxPositions, maxBeams: 16 });
  return { context, prompt: c.prompt, options, eosTokenId: manifest.tokenizer.ids.sep, padTokenId: manifest.tokenizer.ids.pad };
}

/** Runs the cases through one decoder, each joining at its step (registering its context then). */
async function runContinuously(model: BlipModel, manifest: VariantManifest, contexts: readonly CrossContext[], cases: readonly Case[]) {
  const decoder = model.createDecoder();
  const session = new GenerationSession<number>(decoder);
  const results: number[][] = new Array(cases.length);
  const maxCache: number[] = [];
  let step = 0;
  let added = 0;
  while (added < cases.length || session.size > 0) {
    for (const { key, sequence } of session.advance()) results[key] = sequence;
    cases.forEach((c, i) => {
      if (c.joinAt !== step) return;
      session.add(i, requestOf(manifest, c, decoder.addContext(contexts[c.context])));
      added++;
    });
    await session.decode();
    maxCache.push(decoder.cacheLength);
    step++;
  }
  decoder.dispose();
  return { results, steps: step, maxCache: Math.max(...maxCache) };
}

async function runAlone(model: BlipModel, manifest: VariantManifest, contexts: readonly CrossContext[], c: Case): Promise<number[]> {
  const decoder = model.createDecoder([contexts[c.context]]);
  const [sequence] = await generate(decoder, [requestOf(manifest, c, 0)]);
  decoder.dispose();
  return sequence;
}

describe('continuous batching on the decoder graph', () => {
  const variants = useFixtureVariantDirs();

  it('captioning: staggered joins, mixed prompt lengths, greedy and beams: every request equals its run alone', async () => {
    const manifest = await readManifest(variants.caption);
    const model = await BlipModel.load(variants.caption, manifest);
    try {
      const { contexts } = await imageContexts(model, manifest);
      for (const seed of [1, 2, 3]) {
        const random = createRandom(100 + seed);
        const cases = randomCases(seed, 12, manifest, contexts.length, () => 1 + Math.floor(random() * 6));
        const alone = await Promise.all(cases.map((c) => runAlone(model, manifest, contexts, c)));
        const { results } = await runContinuously(model, manifest, contexts, cases);
        expect(results, `seed ${seed}`).toEqual(alone);
      }
    } finally {
      await model.release();
    }
  });

  it('cuts cache columns of rows that left: a long stream of overlapping requests keeps a short cache', async () => {
    const manifest = await readManifest(variants.caption);
    const model = await BlipModel.load(variants.caption, manifest);
    try {
      const { contexts } = await imageContexts(model, manifest);
      const { bos } = manifest.tokenizer.ids;
      // 12 requests of exactly 8 new tokens, one joining every 4 steps: at most 3 overlap, spanning < 20 columns.
      const cases: Case[] = Array.from({ length: 12 }, (_, i) => ({
        context: i % contexts.length,
        prompt: i % 3 === 0 ? [bos, 120, 130] : [bos],
        options: { maxNewTokens: 8, minNewTokens: 8, numBeams: i % 4 === 1 ? 2 : 1 },
        joinAt: 4 * i,
      }));
      const alone = await Promise.all(cases.map((c) => runAlone(model, manifest, contexts, c)));
      const { results, steps, maxCache } = await runContinuously(model, manifest, contexts, cases);
      expect(results).toEqual(alone);
      expect(steps).toBeGreaterThan(50);
      expect(maxCache).toBeLessThan(32);
    } finally {
      await model.release();
    }
  });

  it('VQA: questions of different lengths join at different steps and equal their runs alone', async () => {
    const manifest = await readManifest(variants.vqa);
    const model = await BlipModel.load(variants.vqa, manifest);
    try {
      const { embeds } = await imageContexts(model, manifest);
      const perImage = embeds.length / IMAGE_NAMES.length;
      const random = createRandom(7);
      const { bos, sep } = manifest.tokenizer.ids;
      // Questions: [CLS] w… [SEP] of 2 to 12 tokens, each about one image.
      const questions = Array.from({ length: 8 }, (_, i) => ({
        image: i % IMAGE_NAMES.length,
        tokens: [101, ...Array.from({ length: Math.floor(random() * 11) }, () => 110 + Math.floor(random() * 150)), sep],
      }));
      const contexts: CrossContext[] = [];
      for (const q of questions) {
        const image = embeds.subarray(q.image * perImage, (q.image + 1) * perImage);
        const { states, paddedLength } = await model.encodeQuestions(image, [q.tokens]);
        contexts.push(...(await model.crossContexts(states, 1, paddedLength, [q.tokens.length])));
      }
      const cases = randomCases(5, 8, manifest, 1, () => 1).map((c, i) => ({ ...c, context: i, prompt: [bos] }));
      const alone = await Promise.all(cases.map((c) => runAlone(model, manifest, contexts, c)));
      const { results } = await runContinuously(model, manifest, contexts, cases);
      expect(results).toEqual(alone);
    } finally {
      await model.release();
    }
  });

  it('an admitted row gets the logits it gets alone (within float tolerance), whatever the running rows hold', async () => {
    const manifest = await readManifest(variants.caption);
    const model = await BlipModel.load(variants.caption, manifest);
    try {
      const { contexts } = await imageContexts(model, manifest);
      const { bos } = manifest.tokenizer.ids;
      const vocab = manifest.dims.vocabSize;
      const alone = model.createDecoder([contexts[2]]);
      const expected = await alone.start([{ context: 0, tokens: [bos, 120, 130] }]);
      const expectedNext = await alone.next([0], [140]);

      const running = model.createDecoder();
      const a = running.addContext(contexts[0]);
      await running.start([{ context: a, tokens: [bos, 110] }, { context: a, tokens: [bos] }]);
      await running.next([0, 1, 1], [150, 160, 170]);
      const b = running.addContext(contexts[2]);
      const logits = await running.step([2, 0], [180, 190], [{ context: b, tokens: [bos, 120, 130] }]);
      expect(logits).toHaveLength(3 * vocab);
      expect(maxAbsDiff(logits.subarray(2 * vocab), expected)).toBeLessThanOrEqual(1e-5);
      const next = await running.next([2], [140]);
      expect(maxAbsDiff(next, expectedNext)).toBeLessThanOrEqual(1e-5);
    } finally {
      await model.release();
    }
  });
});
