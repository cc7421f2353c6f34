import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestNames } from '../../../src/registry/closest-names.ts';
import { AnswerDocument, CaptionBatchDocument, CaptionDocument, ModelDocument, ModelsDocument, UploadImageDocument, type CaptionInput, type ModelFieldsFragment } from '../../generated/graphql.ts';
import { readImage } from '../../helpers/fixtures.ts';
import { BROKEN_VARIANT, SMALL_QUEUE_VARIANT, base64Image, byPath, readJson, startTestServer, type TestServer } from './helpers.ts';

/** Where `caption` / `answer` / `uploadImage` / `captionBatch` sit in the printed example documents. */
const AT = [{ line: 2, column: 3 }];
const MAX_BODY_BYTES = 1_000_000;
const MAX_IMAGE_BYTES = 500_000;

// Bad inputs, made here from the fixtures so that each is exactly one kind of bad.
/** A PNG cut short inside its image data. */
const truncatedPng = () => Buffer.from(readImage('gradient_64x48.png').subarray(0, 60)).toString('base64');
/** A JPEG whose entropy-coded data is cut off. */
const truncatedJpeg = () => {
  const bytes = readImage('shapes_400x300.jpg');
  return Buffer.from(bytes.subarray(0, Math.floor(bytes.length / 2))).toString('base64');
};
const svg = () => Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>').toString('base64');
/** A decompression bomb: a real PNG whose header says 100000×100000 (the CRC is fixed up, the data is a 33×33 image's). */
const hugePng = () => {
  const bytes = Buffer.from(readImage('gray_33x33.png'));
  bytes.writeUInt32BE(100_000, 16);
  bytes.writeUInt32BE(100_000, 20);
  bytes.writeUInt32BE(crc32(bytes.subarray(12, 29)), 29);
  return bytes.toString('base64');
};

describe('GraphQL errors: every code from a real bad input', () => {
  let t: TestServer;
  let models: ModelFieldsFragment[];
  const image = () => ({ base64: base64Image('gradient_64x48.png') });
  const defaultFor = (task: 'CAPTION' | 'VQA') => models.find((m) => m.isDefault && m.task === task) as ModelFieldsFragment;

  beforeAll(async () => {
    t = await startTestServer({
      extraVariants: ['broken', 'official', 'small-queue'],
      env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES), MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), IMAGE_STORE_MAX_BYTES: String(MAX_IMAGE_BYTES) },
    });
    models = (await t.gql(ModelsDocument)).body.data!.models;
  });
  afterAll(async () => {
    await t?.close();
  });

  const captionError = async (input: CaptionInput): Promise<any> => {
    const response = await t.gql(CaptionDocument, { input });
    expect(response.status).toBe(200);
    return response.body;
  };
  const single = (field: string, message: string | unknown, extensions: Record<string, unknown>) => ({
    data: null,
    errors: [{ message, locations: AT, path: [field], extensions }],
  });

  it('IMAGE_DECODE_FAILED: a truncated PNG, a truncated JPEG', async () => {
    expect(await captionError({ image: { base64: truncatedPng() } })).toEqual(
      single('caption', 'Expected a valid PNG image but the data is corrupt or truncated', { code: 'IMAGE_DECODE_FAILED' }),
    );
    expect(await captionError({ image: { base64: truncatedJpeg() } })).toEqual(
      single('caption', 'Expected a valid JPEG image but the data is corrupt or truncated', { code: 'IMAGE_DECODE_FAILED' }),
    );
  });

  it('UNSUPPORTED_IMAGE_FORMAT: an SVG document and a text file (at inference and at upload)', async () => {
    expect(await captionError({ image: { base64: svg() } })).toEqual(
      single('caption', 'Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received an SVG document', { code: 'UNSUPPORTED_IMAGE_FORMAT' }),
    );
    const upload = await t.gql(UploadImageDocument, { image: { base64: Buffer.from('just some text').toString('base64') } });
    expect(upload.body).toEqual(
      single('uploadImage', 'Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received data in an unrecognised format', { code: 'UNSUPPORTED_IMAGE_FORMAT' }),
    );
  });

  it('IMAGE_TOO_LARGE: a decompression bomb (pixel limit) and a file over the byte limit', async () => {
    expect(await captionError({ image: { base64: hugePng() } })).toEqual(
      single('caption', 'Expected an image of at most 50000000 pixels but received 100000×100000 = 10000000000 pixels', {
        code: 'IMAGE_TOO_LARGE',
        width: 100_000,
        height: 100_000,
        maxPixels: 50_000_000,
      }),
    );
    const big = Buffer.alloc(MAX_IMAGE_BYTES + 1, 7).toString('base64');
    expect(await captionError({ image: { base64: big } })).toEqual(
      single('caption', `Expected an image of at most ${MAX_IMAGE_BYTES} bytes but received ${MAX_IMAGE_BYTES + 1} bytes`, {
        code: 'IMAGE_TOO_LARGE',
        bytes: MAX_IMAGE_BYTES + 1,
        maxBytes: MAX_IMAGE_BYTES,
      }),
    );
  });

  it('MODEL_NOT_FOUND: an unknown variant, with the closest names in the message and in extensions.suggestions', async () => {
    const names = models.flatMap((m) => [m.name, ...m.aliases]).sort();
    const suggestions = closestNames('blip-tiyn', names);
    expect(suggestions.length).toBeGreaterThan(0);
    expect(await captionError({ image: image(), model: 'blip-tiyn' })).toEqual(
      single('caption', `Unknown model "blip-tiyn". Closest: ${suggestions.join(', ')}`, { code: 'MODEL_NOT_FOUND', model: 'blip-tiyn', suggestions }),
    );
  });

  it('MODEL_NOT_INSTALLED: an official variant that is not installed, with extensions.installCommand', async () => {
    const official = models.find((m) => !m.installed && m.task === 'CAPTION') as ModelFieldsFragment;
    expect(official.installCommand).toMatch(/^npx blip-gateway pull /);
    expect(await captionError({ image: image(), model: official.name })).toEqual(
      single('caption', `Model "${official.name}" is not installed. Install it with: ${official.installCommand}`, {
        code: 'MODEL_NOT_INSTALLED',
        model: official.name,
        installCommand: official.installCommand,
      }),
    );
    // By alias too, when it has one (the Hugging Face id).
    for (const alias of official.aliases) {
      expect((await captionError({ image: image(), model: alias })).errors[0].extensions.code).toBe('MODEL_NOT_INSTALLED');
    }
  });

  it('WRONG_TASK: the VQA variant asked to caption, and a caption variant asked a question', async () => {
    const vqa = defaultFor('VQA').name;
    const caption = defaultFor('CAPTION').name;
    expect(await captionError({ image: image(), model: vqa })).toEqual(
      single('caption', `Model "${vqa}" is a vqa model and cannot caption images; use a caption model such as "${caption}"`, {
        code: 'WRONG_TASK',
        model: vqa,
        task: 'vqa',
        requestedTask: 'caption',
      }),
    );
    const response = await t.gql(AnswerDocument, { input: { image: image(), model: caption, question: 'what is it?' } });
    expect(response.body).toEqual(
      single('answer', `Model "${caption}" is a caption model and cannot answer questions; use a vqa model such as "${vqa}"`, {
        code: 'WRONG_TASK',
        model: caption,
        task: 'caption',
        requestedTask: 'vqa',
      }),
    );
  });

  it('MODEL_LOAD_FAILED: an installed variant whose graph is garbage; models then reports FAILED with loadError', async () => {
    const body = await captionError({ image: image(), model: BROKEN_VARIANT });
    expect(body).toEqual(single('caption', expect.stringMatching(new RegExp(`^Cannot load model "${BROKEN_VARIANT}": `)), { code: 'MODEL_LOAD_FAILED', model: BROKEN_VARIANT }));
    // The message names the file, relative to the registry: no server folders reach the client.
    expect(body.errors[0].message).toContain(`${BROKEN_VARIANT}/vision_model.onnx`);
    expect(body.errors[0].message).not.toContain(t.registryDir);
    const model = (await t.gql(ModelDocument, { name: BROKEN_VARIANT })).body.data?.model;
    expect(model).toMatchObject({ state: 'FAILED', installed: true, loadError: { code: 'MODEL_LOAD_FAILED', message: body.errors[0].message } });
  });

  it('QUESTION_TOO_LONG: over the character limit (gateway) and over the model token limit (pipeline)', async () => {
    const tooManyChars = 'why '.repeat(125) + '?';
    const response = await t.gql(AnswerDocument, { input: { image: image(), question: tooManyChars } });
    expect(response.body).toEqual(
      single('answer', `The question is ${tooManyChars.length} characters long; this server accepts at most 500`, { code: 'QUESTION_TOO_LONG', chars: 501, maxChars: 500 }),
    );
    const tooManyTokens = 'why '.repeat(100).trim();
    const tokens = await t.gql(AnswerDocument, { input: { image: image(), question: tooManyTokens } });
    expect(tokens.body).toEqual(
      single('answer', expect.stringMatching(/^The question is \d+ tokens long; this model reads at most \d+$/), {
        code: 'QUESTION_TOO_LONG',
        tokens: expect.any(Number),
        maxTokens: expect.any(Number),
      }),
    );
  });

  it('OVERLOADED: requests beyond a variant queue are refused with a retry hint (engine error, passed through)', async () => {
    const inputs = ['gradient_64x48.png', 'shapes_400x300.jpg', 'rgba_50x90.png'].map((name) => ({ image: { base64: base64Image(name) }, model: SMALL_QUEUE_VARIANT }));
    const response = await t.gql(CaptionBatchDocument, { inputs });
    expect(response.body.data?.captionBatch).toEqual([expect.objectContaining({ model: SMALL_QUEUE_VARIANT, batchSize: 1 }), null, null]);
    expect(byPath(response.body.errors)).toEqual(
      [1, 2].map((i) => ({
        message: expect.stringMatching(new RegExp(`^Model ${SMALL_QUEUE_VARIANT} is busy \\(1 requests in progress\\); retry after \\d+ ms$`)),
        locations: AT,
        path: ['captionBatch', i],
        extensions: { code: 'OVERLOADED', retryAfterMs: expect.any(Number), queueSize: 1 },
      })),
    );
  });

  it('DEADLINE_EXCEEDED: a result not ready within timeoutMs (engine error, passed through)', async () => {
    const slow = { numBeams: 16, maxNewTokens: 40, minLength: 40 };
    // Whichever side notices first (the server's queue, its timer, or the worker between steps) reports the same
    // error; only where it was noticed (details.stage) differs.
    const body = await captionError({ image: { base64: base64Image('shapes_400x300.jpg') }, options: slow, timeoutMs: 1 });
    const extensions = body.errors?.[0]?.extensions as Record<string, unknown>;
    expect(body).toEqual(single('caption', 'The request did not finish before its deadline', extensions));
    expect(extensions).toEqual({ code: 'DEADLINE_EXCEEDED', reason: 'deadline', deadline: expect.any(Number), ...(extensions.stage ? { stage: expect.stringMatching(/^(queue|encode|decode)$/) } : {}) });
  });

  it('BAD_USER_INPUT: generation options out of range', async () => {
    const cases: Array<[object, string, string]> = [
      [{ numBeams: 0 }, 'Expected integer 1..16 for numBeams but received 0', 'numBeams'],
      [{ numBeams: 1000 }, 'Expected integer 1..16 for numBeams but received 1000', 'numBeams'],
      [{ repetitionPenalty: 0 }, 'Expected number in (0, 100] for repetitionPenalty but received 0', 'repetitionPenalty'],
      [{ lengthPenalty: 11.5 }, 'Expected number in [-10, 10] for lengthPenalty but received 11.5', 'lengthPenalty'],
      [{ maxNewTokens: 0 }, expect.stringMatching(/^Expected integer 1\.\.\d+ for maxNewTokens but received 0$/) as unknown as string, 'maxNewTokens'],
      [{ minLength: -1 }, expect.stringMatching(/^Expected integer 0\.\.\d+ for minLength but received -1$/) as unknown as string, 'minLength'],
    ];
    for (const [options, message, option] of cases) {
      expect(await captionError({ image: image(), options })).toEqual(single('caption', message, { code: 'BAD_USER_INPUT', option }));
    }
  });

  it('BAD_USER_INPUT: zero or two image sources, bad base64, an unknown imageId, url while fetching is off', async () => {
    expect(await captionError({ image: {} })).toEqual(
      single('caption', 'Expected exactly one of base64, upload, imageId, url in image but received none', { code: 'BAD_USER_INPUT', field: 'image', given: [] }),
    );
    expect(await captionError({ image: { base64: base64Image('gradient_64x48.png'), imageId: 'a'.repeat(64) } })).toEqual(
      single('caption', 'Expected exactly one of base64, upload, imageId, url in image but received 2 (base64, imageId)', {
        code: 'BAD_USER_INPUT',
        field: 'image',
        given: ['base64', 'imageId'],
      }),
    );
    expect(await captionError({ image: { base64: 'not base64 at all!' } })).toEqual(
      single('caption', 'Expected base64 (or a data: URL) for image.base64 but the text is not valid base64', { code: 'BAD_USER_INPUT', field: 'image.base64' }),
    );
    expect(await captionError({ image: { imageId: 'f'.repeat(64) } })).toEqual(
      single('caption', `Unknown or expired imageId ${'f'.repeat(64)}: upload the image again`, { code: 'BAD_USER_INPUT', imageId: 'f'.repeat(64) }),
    );
    expect(await captionError({ image: { url: 'https://example.com/cat.jpg' } })).toEqual(
      single(
        'caption',
        'Fetching images by url is disabled on this server (no IMAGE_URL_ALLOWED_HOSTS configured); send the image as base64, as a multipart upload or by imageId',
        { code: 'BAD_USER_INPUT', field: 'image.url' },
      ),
    );
  });

  it('BAD_USER_INPUT: an empty question, a prompt over the limit, a batch over the limit', async () => {
    expect((await t.gql(AnswerDocument, { input: { image: image(), question: '  ' } })).body).toEqual(
      single('answer', 'Expected a non-empty question', { code: 'BAD_USER_INPUT', field: 'question' }),
    );
    expect(await captionError({ image: image(), prompt: 'a'.repeat(501) })).toEqual(
      single('caption', 'Expected a prompt of at most 500 characters but received 501', { code: 'BAD_USER_INPUT', field: 'prompt', chars: 501, maxChars: 500 }),
    );
    const batch = await t.gql(CaptionBatchDocument, { inputs: Array.from({ length: 33 }, () => ({ image: {} })) });
    expect(batch.body).toEqual(
      single('captionBatch', 'Expected at most 32 items for inputs but received 33', { code: 'BAD_USER_INPUT', field: 'inputs', items: 33, maxItems: 32 }),
    );
  });

  it('BAD_USER_INPUT from GraphQL itself: a variable of the wrong type (HTTP 400)', async () => {
    const response = await t.gql(CaptionDocument, { input: { image: image(), options: { numBeams: 'three' as unknown as number } } });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      errors: [
        {
          message: expect.stringContaining('Int cannot represent non-integer value: "three"'),
          locations: [{ line: 1, column: 18 }],
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ],
    });
  });

  it('PAYLOAD_TOO_LARGE: a body over the limit is refused with HTTP 413 and a GraphQL-shaped body (declared or chunked)', async () => {
    const big = { query: 'mutation { __typename }', variables: { padding: 'x'.repeat(MAX_BODY_BYTES) } };
    const declared = await t.postGraphQL(big);
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual({
      errors: [
        {
          message: `The request body is larger than the limit of ${MAX_BODY_BYTES} bytes (Content-Length: ${JSON.stringify(big).length})`,
          extensions: { code: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES },
        },
      ],
    });

    // Without a Content-Length the limit applies while reading.
    const bytes = new TextEncoder().encode(JSON.stringify(big));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 65536) controller.enqueue(bytes.subarray(offset, offset + 65536));
        controller.close();
      },
    });
    const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(await readJson(response)).toEqual({
      errors: [{ message: `The request body is larger than the limit of ${MAX_BODY_BYTES} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES } }],
    });
  });

  it('BAD_REQUEST: a body that is not JSON (HTTP 400)', async () => {
    const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(await readJson(response)).toEqual({
      errors: [{ message: expect.stringMatching(/^The request body is not valid JSON: /), extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('GRAPHQL_VALIDATION_FAILED and GRAPHQL_PARSE_FAILED keep their Apollo codes', async () => {
    const invalid = await t.postGraphQL({ query: '{ nope }' });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toEqual({
      errors: [{ message: 'Cannot query field "nope" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
    });
    const unparsable = await t.postGraphQL({ query: '{ models ' });
    expect(unparsable.status).toBe(400);
    expect(unparsable.body).toEqual({
      errors: [{ message: 'Syntax Error: Expected Name, found <EOF>.', locations: [{ line: 1, column: 10 }], extensions: { code: 'GRAPHQL_PARSE_FAILED' } }],
    });
  });
});
