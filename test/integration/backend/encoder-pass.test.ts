import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../gateway/helpers.ts';

/** Eight different pictures (solid colours), as PNG bytes in base64. */
async function distinctImages(count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const png = await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 30 * i, g: 255 - 30 * i, b: (70 * i) % 256 } } }).png().toBuffer();
      return png.toString('base64');
    }),
  );
}

/** The encoder-pass histogram of one variant from /metrics: how many passes, how many images in all. */
async function encoderPasses(server: TestServer, variant: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string) => Number(text.match(new RegExp(`^${name}\\{variant="${variant}"\\} (\\S+)$`, 'm'))?.[1] ?? 0);
  return { count: value('blip_encoder_batch_size_count'), sum: value('blip_encoder_batch_size_sum') };
}

const CAPTION = `mutation ($inputs: [CaptionInput!]!) { captionBatch(inputs: $inputs) { caption batchSize } }`;
const ONE = `mutation ($input: CaptionInput!) { caption(input: $input) { caption } }`;

describe('DataLoader owns the encoder pass', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a batch of 8 distinct images is one vision-encoder pass of 8 (blip_encoder_batch_size)', async () => {
    const images = await distinctImages(8);
    const before = await encoderPasses(server, 'blip-tiny');
    const response = await server.postGraphQL({ query: CAPTION, variables: { inputs: images.map((base64) => ({ model: 'blip-tiny', image: { base64 }, options: { maxNewTokens: 3 } })) } });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.captionBatch).toHaveLength(8);
    const after = await encoderPasses(server, 'blip-tiny');
    expect({ count: after.count - before.count, sum: after.sum - before.sum }).toEqual({ count: 1, sum: 8 });
  });

  it('8 concurrent requests with distinct images form batched passes: every image encoded once, in fewer than 8 passes', async () => {
    const images = await distinctImages(16);
    const before = await encoderPasses(server, 'blip-tiny');
    const responses = await Promise.all(
      images.slice(8).map((base64) => server.postGraphQL({ query: ONE, variables: { input: { model: 'blip-tiny', image: { base64 }, options: { maxNewTokens: 3 } } } })),
    );
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const after = await encoderPasses(server, 'blip-tiny');
    expect(after.sum - before.sum).toBe(8);
    expect(after.count - before.count).toBeLessThan(8);
  });
});
