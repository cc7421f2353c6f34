import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipPipeline } from '../../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import {
  AnswerBatchDocument,
  AnswerDocument,
  CaptionBatchDocument,
  CaptionDocument,
  ModelDocument,
  ModelsDocument,
  type ModelFieldsFragment,
} from '../../generated/graphql.ts';
import { CAPTION_CHECKPOINT, VQA_CHECKPOINT, readImage, readJson, withoutPadding } from '../../helpers/fixtures.ts';
import { base64Image, byPath, startTestServer, type TestServer } from './helpers.ts';

const TIMINGS = { queueMs: expect.any(Number), preprocessMs: expect.any(Number), encodeMs: expect.any(Number), decodeMs: expect.any(Number), totalMs: expect.any(Number) };
const IMAGES = ['gradient_64x48.png', 'shapes_400x300.jpg'] as const;
const QUESTION = 'what color is the sky?';
const captionCases: any[] = readJson(join(CAPTION_CHECKPOINT, 'references.json')).cases;
const vqaCases: any[] = readJson(join(VQA_CHECKPOINT, 'references.json')).cases;

describe('GraphQL inference over HTTP (every shipped variant)', () => {
  let t: TestServer;
  let models: ModelFieldsFragment[];
  const pipelines = new Map<string, BlipPipeline>();

  const installed = (task: 'CAPTION' | 'VQA') => models.filter((m) => m.installed && m.task === task);
  const defaultFor = (task: 'CAPTION' | 'VQA') => models.find((m) => m.isDefault && m.task === task) as ModelFieldsFragment;

  beforeAll(async () => {
    t = await startTestServer();
    models = (await t.gql(ModelsDocument)).body.data!.models;
    // The same request run through BlipPipeline directly is the reference for whatever the registry ships.
    for (const model of models.filter((m) => m.installed)) {
      pipelines.set(model.name, await BlipPipeline.load(t.server.registry.find(model.name)!.directory, { imageLimits: DEFAULT_IMAGE_LIMITS }));
    }
  });
  afterAll(async () => {
    for (const pipeline of pipelines.values()) await pipeline.release();
    await t?.close();
  });

  const direct = async (model: string, task: 'CAPTION' | 'VQA', image: string, extra: { prompt?: string; question?: string; options?: object } = {}) => {
    const pipeline = pipelines.get(model)!;
    const [result] =
      task === 'CAPTION'
        ? await pipeline.caption([{ image: readImage(image), prompt: extra.prompt, options: extra.options }])
        : await pipeline.answer([{ image: readImage(image), question: extra.question ?? QUESTION, options: extra.options }]);
    if (!result.ok) throw new Error(`direct run failed: ${result.error.message}`);
    return result.value;
  };

  it('lists the shipped variants: every embedded one installed, one installed default per task', () => {
    expect(models.length).toBeGreaterThan(0);
    for (const task of ['CAPTION', 'VQA'] as const) {
      expect(models.filter((m) => m.isDefault && m.task === task)).toHaveLength(1);
      expect(defaultFor(task)).toMatchObject({ installed: true, installCommand: null, loadError: null });
      expect(defaultFor(task).parameters).toBeGreaterThan(0);
      expect(defaultFor(task).bytes).toBeGreaterThan(0);
    }
    for (const model of models.filter((m) => !m.installed)) expect(model.installCommand).toMatch(/^npx blip-gateway (pull|convert) /);
  });

  it('captions with every installed caption variant exactly as BlipPipeline does', async () => {
    for (const model of installed('CAPTION')) {
      for (const image of IMAGES) {
        const options = { maxNewTokens: 12 };
        const expected = await direct(model.name, 'CAPTION', image, { options });
        const response = await t.gql(CaptionDocument, { input: { image: { base64: base64Image(image) }, model: model.name, options } });
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ data: { caption: { caption: expected.text, model: model.name, batchSize: 1, sequence: expected.sequence, timings: TIMINGS } } });
      }
      // With a prompt and beam search.
      const options = { numBeams: 3, maxNewTokens: 10, repetitionPenalty: 1.2, lengthPenalty: 0.8 };
      const expected = await direct(model.name, 'CAPTION', IMAGES[1], { prompt: 'a picture of', options });
      const response = await t.gql(CaptionDocument, { input: { image: { base64: base64Image(IMAGES[1]) }, model: model.name, prompt: 'a picture of', options } });
      expect(response.body.data?.caption).toMatchObject({ caption: expected.text, sequence: expected.sequence, model: model.name });
    }
  });

  it('answers with every installed VQA variant exactly as BlipPipeline does', async () => {
    for (const model of installed('VQA')) {
      for (const image of IMAGES) {
        const options = { maxNewTokens: 8 };
        const expected = await direct(model.name, 'VQA', image, { question: QUESTION, options });
        const response = await t.gql(AnswerDocument, { input: { image: { base64: base64Image(image) }, model: model.name, question: QUESTION, options } });
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ data: { answer: { answer: expected.text, model: model.name, batchSize: 1, sequence: expected.sequence, timings: TIMINGS } } });
      }
    }
  });

  it("matches transformers' reference outputs where a variant is a tiny fixture", async () => {
    const fixtureCaption = models.find((m) => m.installed && m.source === 'test/fixtures/blip-tiny/caption');
    const fixtureVqa = models.find((m) => m.installed && m.source === 'test/fixtures/blip-tiny/vqa');
    if (!fixtureCaption && !fixtureVqa) return; // a trained model replaced the fixtures; the BlipPipeline comparisons above still run
    if (fixtureCaption) {
      for (const name of ['greedy_noprompt_0', 'greedy_prompt_4', 'beam3_noprompt_4']) {
        const c = captionCases.find((x) => x.name === name);
        const options = { maxNewTokens: c.generate_kwargs.max_new_tokens, numBeams: c.generate_kwargs.num_beams ?? null };
        const response = await t.gql(CaptionDocument, { input: { image: { base64: base64Image(c.images[0]) }, model: fixtureCaption.name, prompt: c.prompt, options } });
        expect(response.body.data?.caption).toMatchObject({ caption: c.output_text[0], sequence: withoutPadding(c.output_ids[0]) });
      }
    }
    if (fixtureVqa) {
      for (const name of ['single_0', 'single_1', 'beam3_single_0']) {
        const c = vqaCases.find((x) => x.name === name);
        const options = { maxNewTokens: c.generate_kwargs.max_new_tokens, numBeams: c.generate_kwargs.num_beams ?? null };
        const response = await t.gql(AnswerDocument, { input: { image: { base64: base64Image(c.images[0]) }, model: fixtureVqa.name, question: c.questions[0], options } });
        expect(response.body.data?.answer).toMatchObject({ answer: c.answer_text[0], sequence: withoutPadding(c.answer_ids[0]) });
      }
    }
  });

  it('uses the default variant of the task when no model is named', async () => {
    const caption = await t.gql(CaptionDocument, { input: { image: { base64: base64Image(IMAGES[0]) } } });
    const expectedCaption = await direct(defaultFor('CAPTION').name, 'CAPTION', IMAGES[0]);
    expect(caption.body).toEqual({ data: { caption: { caption: expectedCaption.text, model: defaultFor('CAPTION').name, batchSize: 1, sequence: expectedCaption.sequence, timings: TIMINGS } } });

    const answer = await t.gql(AnswerDocument, { input: { image: { base64: base64Image(IMAGES[0]) }, question: QUESTION } });
    const expectedAnswer = await direct(defaultFor('VQA').name, 'VQA', IMAGES[0]);
    expect(answer.body).toEqual({ data: { answer: { answer: expectedAnswer.text, model: defaultFor('VQA').name, batchSize: 1, sequence: expectedAnswer.sequence, timings: TIMINGS } } });
  });

  it('accepts every alias of an installed variant and reports the canonical name', async () => {
    const withAliases = models.filter((m) => m.installed && m.aliases.length > 0);
    expect(withAliases.length).toBeGreaterThan(0);
    for (const model of withAliases) {
      for (const alias of model.aliases) {
        expect((await t.gql(ModelDocument, { name: alias })).body).toEqual({ data: { model: { ...model, state: 'READY' } } });
        const response =
          model.task === 'CAPTION'
            ? (await t.gql(CaptionDocument, { input: { image: { base64: base64Image(IMAGES[0]) }, model: alias } })).body.data?.caption
            : (await t.gql(AnswerDocument, { input: { image: { base64: base64Image(IMAGES[0]) }, model: alias, question: QUESTION } })).body.data?.answer;
        expect(response?.model).toBe(model.name);
      }
    }
    expect((await t.gql(ModelDocument, { name: 'no-such-model' })).body).toEqual({ data: { model: null } });
  });

  it('captionBatch runs its items in one model pass; failed items are null with their own error and code', async () => {
    const model = defaultFor('CAPTION').name;
    const corrupt = Buffer.from(readImage('gradient_64x48.png').subarray(0, 60)).toString('base64');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>').toString('base64');
    const response = await t.gql(CaptionBatchDocument, {
      inputs: [
        { image: { base64: base64Image(IMAGES[0]) } },
        { image: { base64: corrupt } },
        { image: { base64: base64Image(IMAGES[1]) } },
        { image: { base64: base64Image(IMAGES[0]) }, model: 'blip-tnyi' },
        { image: { base64: svg } },
        { image: { base64: base64Image(IMAGES[0]) }, options: { numBeams: 1000 } },
      ],
    });
    const [first, second] = [await direct(model, 'CAPTION', IMAGES[0]), await direct(model, 'CAPTION', IMAGES[1])];
    expect(response.status).toBe(200);
    // The two items that reached the decoder (the others fail on their own) decoded together.
    expect(response.body.data).toEqual({
      captionBatch: [
        { caption: first.text, model, batchSize: 2, sequence: first.sequence },
        null,
        { caption: second.text, model, batchSize: 2, sequence: second.sequence },
        null,
        null,
        null,
      ],
    });
    expect(byPath(response.body.errors)).toEqual([
      {
        message: 'Expected a valid PNG image but the data is corrupt or truncated',
        locations: [{ line: 2, column: 3 }],
        path: ['captionBatch', 1],
        extensions: { code: 'IMAGE_DECODE_FAILED' },
      },
      {
        message: expect.stringMatching(/^Unknown model "blip-tnyi"\. Closest: /),
        locations: [{ line: 2, column: 3 }],
        path: ['captionBatch', 3],
        extensions: { code: 'MODEL_NOT_FOUND', model: 'blip-tnyi', suggestions: expect.arrayContaining([model]) },
      },
      {
        message: 'Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received an SVG document',
        locations: [{ line: 2, column: 3 }],
        path: ['captionBatch', 4],
        extensions: { code: 'UNSUPPORTED_IMAGE_FORMAT' },
      },
      {
        message: 'Expected integer 1..16 for numBeams but received 1000',
        locations: [{ line: 2, column: 3 }],
        path: ['captionBatch', 5],
        extensions: { code: 'BAD_USER_INPUT', option: 'numBeams' },
      },
    ]);
  });

  it('answerBatch asks several questions in one pass', async () => {
    const model = defaultFor('VQA').name;
    const response = await t.gql(AnswerBatchDocument, {
      inputs: IMAGES.map((image) => ({ image: { base64: base64Image(image) }, question: QUESTION, options: { maxNewTokens: 8 } })),
    });
    // Questions of equal length need no padding, so each row equals its single run.
    const expected = await Promise.all(IMAGES.map((image) => direct(model, 'VQA', image, { options: { maxNewTokens: 8 } })));
    expect(response.body).toEqual({ data: { answerBatch: expected.map((e) => ({ answer: e.text, model, batchSize: 2, sequence: e.sequence })) } });
  });

  it('aliased caption fields in one mutation run one after another (why the batch fields exist)', async () => {
    const query = `mutation Two($a: CaptionInput!, $b: CaptionInput!) { a: caption(input: $a) { batchSize } b: caption(input: $b) { batchSize } }`;
    const input = { image: { base64: base64Image(IMAGES[0]) } };
    const response = await t.postGraphQL({ query, variables: { a: input, b: input } });
    expect(response.body).toEqual({ data: { a: { batchSize: 1 }, b: { batchSize: 1 } } });
  });
});
