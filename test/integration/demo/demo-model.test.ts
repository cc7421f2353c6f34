import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderScene } from '../../../tools/scenes/index.ts';
import { startTestServer, type TestServer } from '../gateway/helpers.ts';

/**
 * The shipped demo variants really see: over HTTP, with the server's defaults (blip-demo and blip-demo-vqa), a
 * generated picture of a red circle is captioned with "red" and "circle", and "what color is the circle?" is answered
 * "red", alone and inside a batch of mixed concurrent requests.
 */
describe('demo models (the embedded defaults)', () => {
  let server: TestServer;
  let redCircle: string;
  beforeAll(async () => {
    server = await startTestServer();
    redCircle = (await renderScene({ shapes: [{ shape: 'circle', color: 'red' }] })).image.toString('base64');
  });
  afterAll(async () => {
    await server?.close();
  });

  const caption = (base64: string) => server.postGraphQL({ query: 'mutation($i: CaptionInput!) { caption(input: $i) { caption model } }', variables: { i: { image: { base64 } } } });
  const answer = (base64: string, question: string) =>
    server.postGraphQL({ query: 'mutation($i: AnswerInput!) { answer(input: $i) { answer model } }', variables: { i: { image: { base64 }, question } } });

  it('captions a red circle with "red" and "circle"; answers "red" to "what color is the circle?"', async () => {
    const captioned = await caption(redCircle);
    expect(captioned.body.data.caption.model).toBe('blip-demo');
    expect(captioned.body.data.caption.caption.split(' ')).toEqual(expect.arrayContaining(['red', 'circle']));
    const answered = await answer(redCircle, 'what color is the circle?');
    expect(answered.body.data.answer).toEqual({ answer: 'red', model: 'blip-demo-vqa' });
  });

  it('gives the same answers inside a batch of mixed concurrent requests', async () => {
    const others = await Promise.all(
      (
        [
          ['square', 'blue'],
          ['triangle', 'green'],
          ['star', 'yellow'],
        ] as const
      ).map(async ([shape, color]) => (await renderScene({ shapes: [{ shape, color }, { shape: 'circle', color: 'purple' }] })).image.toString('base64')),
    );
    const [captioned, answered, ...rest] = await Promise.all([
      caption(redCircle),
      answer(redCircle, 'what color is the circle?'),
      ...others.flatMap((image) => [caption(image), answer(image, 'how many shapes are there?'), answer(image, 'is there a circle?')]),
    ]);
    expect(captioned.body.data.caption.caption.split(' ')).toEqual(expect.arrayContaining(['red', 'circle']));
    expect(answered.body.data.answer.answer).toBe('red');
    expect(rest.every((response) => response.status === 200 && response.body.errors === undefined)).toBe(true);
  });
});
