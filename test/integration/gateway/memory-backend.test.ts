import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../helpers/memory-backend.ts';
import { base64Image, startTestServer, type TestServer } from './helpers.ts';

const CAPTION = `mutation ($input: CaptionInput!) { caption(input: $input) { caption model batchSize } }`;
const ANSWER = `mutation ($input: AnswerInput!) { answer(input: $input) { answer model } }`;
const CAPTION_BATCH = `mutation ($inputs: [CaptionInput!]!) { captionBatch(inputs: $inputs) { caption } }`;

/**
 * The gateway over the backend interface alone: the real HTTP server and registry, with every variant served by an
 * in-memory backend (no worker thread, no ONNX session). What the gateway owns (resolution, checks, deadlines,
 * grouping, error codes) is the same whatever computes the text.
 */
describe('the gateway over an in-memory backend', () => {
  let server: TestServer;
  const backends = new Map<string, MemoryBackend>();
  beforeAll(async () => {
    server = await startTestServer({
      startBackend: async (dir) => {
        const backend = await MemoryBackend.start(dir);
        backends.set(backend.variant.name, backend);
        return backend;
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const image = base64Image('gray_33x33.png');
  const expected = (kind: 'caption' | 'answer', text: string, maxNewTokens: number) =>
    MemoryBackend.wordsFor(
      kind === 'caption'
        ? { kind, item: { image: Buffer.from(image, 'base64'), prompt: text, options: { maxNewTokens } } }
        : { kind, item: { image: Buffer.from(image, 'base64'), question: text, options: { maxNewTokens } } },
    ).join(' ');

  it('serves caption and answer with the backend the registry leased', async () => {
    const caption = await server.postGraphQL({ query: CAPTION, variables: { input: { model: 'blip-tiny', image: { base64: image }, options: { maxNewTokens: 4 } } } });
    expect(caption.body).toEqual({ data: { caption: { caption: expected('caption', '', 4), model: 'blip-tiny', batchSize: 1 } } });
    const answer = await server.postGraphQL({ query: ANSWER, variables: { input: { model: 'blip-tiny-vqa', image: { base64: image }, question: 'what is it?', options: { maxNewTokens: 2 } } } });
    expect(answer.body).toEqual({ data: { answer: { answer: expected('answer', 'what is it?', 2), model: 'blip-tiny-vqa' } } });
    expect(backends.get('blip-tiny')?.variant).toEqual({ name: 'blip-tiny', family: 'blip', task: 'caption', precision: 'fp32' });
  });

  it('a batch mutation reaches the backend as one group', async () => {
    const backend = backends.get('blip-tiny') as MemoryBackend;
    const before = backend.groups.length;
    const response = await server.postGraphQL({ query: CAPTION_BATCH, variables: { inputs: [1, 2, 3].map((n) => ({ model: 'blip-tiny', image: { base64: image }, prompt: `p${n}` })) } });
    expect(response.body.data.captionBatch).toHaveLength(3);
    expect(backend.groups.slice(before)).toEqual([3]);
  });

  it('checks once, before the backend: wrong task, empty question, unknown model; the backend never sees them', async () => {
    const backend = backends.get('blip-tiny-vqa') as MemoryBackend;
    const before = backend.groups.length;
    const wrong = await server.postGraphQL({ query: CAPTION, variables: { input: { model: 'blip-tiny-vqa', image: { base64: image } } } });
    expect(wrong.body.errors[0].extensions.code).toBe('WRONG_TASK');
    const empty = await server.postGraphQL({ query: ANSWER, variables: { input: { model: 'blip-tiny-vqa', image: { base64: image }, question: '  ' } } });
    expect(empty.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const unknown = await server.postGraphQL({ query: ANSWER, variables: { input: { model: 'blip-nope', image: { base64: image }, question: 'why?' } } });
    expect(unknown.body.errors[0].extensions.code).toBe('MODEL_NOT_FOUND');
    expect(backend.groups.length).toBe(before);
  });

  it('a deadline shorter than the generation ends with DEADLINE_EXCEEDED, labelled with where the item was', async () => {
    const response = await server.postGraphQL({ query: CAPTION, variables: { input: { model: 'blip-tiny', image: { base64: image }, timeoutMs: 30, options: { maxNewTokens: 200 } } } });
    const { extensions } = response.body.errors[0];
    expect(extensions).toMatchObject({ code: 'DEADLINE_EXCEEDED', reason: 'deadline' });
    // 200 steps of 2 ms cannot finish in 30 ms: the item left while the backend generated it.
    expect(['encode', 'decode']).toContain(extensions.stage);
  });
});
