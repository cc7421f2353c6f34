import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerDocument, CaptionDocument, ModelsDocument, type ModelFieldsFragment } from '../../generated/graphql.ts';
import { readImage } from '../../helpers/fixtures.ts';
import { base64Image, readJson, startTestServer, type TestServer } from './helpers.ts';

const MAX_BODY_BYTES = 100_000;
const QUESTION = 'what color is the sky?';

describe('REST compatibility: POST /api/v1/inference/blip', () => {
  let t: TestServer;
  let models: ModelFieldsFragment[];
  const defaultFor = (task: 'CAPTION' | 'VQA') => models.find((m) => m.isDefault && m.task === task) as ModelFieldsFragment;

  beforeAll(async () => {
    t = await startTestServer({ env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
    models = (await t.gql(ModelsDocument)).body.data!.models;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('captions without a question and answers with one, exactly as the GraphQL API does', async () => {
    const image = base64Image('shapes_400x300.jpg');
    const caption = defaultFor('CAPTION');
    const viaGraphQL = (await t.gql(CaptionDocument, { input: { image: { base64: image }, model: caption.name } })).body.data!.caption.caption;
    expect(await t.rest({ model: caption.name, image })).toMatchObject({ status: 200, body: { caption: viaGraphQL } });
    // Without a model: the default; by alias; as a data: URL.
    expect((await t.rest({ image })).body).toEqual({ caption: viaGraphQL });
    for (const alias of caption.aliases) expect((await t.rest({ model: alias, image })).body).toEqual({ caption: viaGraphQL });
    expect((await t.rest({ image: `data:image/jpeg;base64,${image}` })).body).toEqual({ caption: viaGraphQL });

    const vqa = defaultFor('VQA');
    const answer = (await t.gql(AnswerDocument, { input: { image: { base64: image }, model: vqa.name, question: QUESTION } })).body.data!.answer.answer;
    const response = await t.rest({ model: vqa.name, image, question: QUESTION });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ answer });
  });

  it('reports errors as {"error": {"code", "message"}} with a fitting HTTP status', async () => {
    const image = base64Image('gradient_64x48.png');
    const official = models.find((m) => !m.installed) as ModelFieldsFragment;
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64');
    const corrupt = Buffer.from(readImage('gradient_64x48.png').subarray(0, 60)).toString('base64');
    const cases: Array<[unknown, number, string, string | RegExp]> = [
      [{ model: 'blip-nope', image }, 404, 'MODEL_NOT_FOUND', /^Unknown model "blip-nope"\. Closest: /],
      [{ model: official.name, image }, 503, 'MODEL_NOT_INSTALLED', `Model "${official.name}" is not installed. Install it with: ${official.installCommand}`],
      [{ model: defaultFor('VQA').name, image }, 422, 'WRONG_TASK', /^Model ".+" is a vqa model and cannot caption images/],
      [{ model: defaultFor('CAPTION').name, image, question: QUESTION }, 422, 'WRONG_TASK', /^Model ".+" is a caption model and cannot answer questions/],
      [{ image: svg }, 422, 'UNSUPPORTED_IMAGE_FORMAT', 'Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received an SVG document'],
      [{ image: corrupt }, 422, 'IMAGE_DECODE_FAILED', 'Expected a valid PNG image but the data is corrupt or truncated'],
      [{ image, question: 'why '.repeat(130) }, 400, 'QUESTION_TOO_LONG', 'The question is 520 characters long; this server accepts at most 500'],
      [{ image: '%%%' }, 400, 'BAD_USER_INPUT', 'Expected base64 (or a data: URL) for image.base64 but the text is not valid base64'],
      [{ model: 'blip-tiny' }, 400, 'BAD_USER_INPUT', 'Expected a base64 string for image but received nothing'],
      [{ image, question: 42 }, 400, 'BAD_USER_INPUT', 'Expected a string for question but received a number'],
      [[image], 400, 'BAD_USER_INPUT', 'Expected a JSON object body: {"model"?, "image", "question"?}'],
    ];
    for (const [body, status, code, message] of cases) {
      const response = await t.rest(body);
      expect({ body, status: response.status, json: response.body }).toEqual({
        body,
        status,
        json: { error: { code, message: typeof message === 'string' ? message : expect.stringMatching(message) } },
      });
    }
  });

  it('refuses bodies over the limit with 413 and malformed JSON with 400, in the REST error shape', async () => {
    const big = await t.rest({ image: 'A'.repeat(MAX_BODY_BYTES) });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({
      error: { code: 'PAYLOAD_TOO_LARGE', message: `The request body is larger than the limit of ${MAX_BODY_BYTES} bytes (Content-Length: ${MAX_BODY_BYTES + 12})` },
    });
    const malformed = await fetch(`${t.url}/api/v1/inference/blip`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image": ' });
    expect(malformed.status).toBe(400);
    expect(await readJson(malformed)).toEqual({ error: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/^The request body is not valid JSON: /) } });
  });
});
