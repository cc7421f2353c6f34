import { print } from 'graphql';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerDocument, CaptionBatchDocument, CaptionDocument, LimitsDocument, UploadImageDocument } from '../../generated/graphql.ts';
import { readImage } from '../../helpers/fixtures.ts';
import { base64Image, readJson, startTestServer, type TestServer } from './helpers.ts';

const AT = [{ line: 2, column: 3 }];
const MAX_IMAGE_BYTES = 200_000;
const MAX_BODY_BYTES = 400_000;
const QUESTIONS = ['what color is the sky?', 'How many dogs are in the picture?'];

/** A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec): one file per map entry. */
function multipart(query: string, variables: object, files: Record<string, { path: string; bytes: Uint8Array; name: string }>): FormData {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(Object.fromEntries(Object.entries(files).map(([key, file]) => [key, [file.path]]))));
  for (const [key, file] of Object.entries(files)) form.append(key, new Blob([new Uint8Array(file.bytes)]), file.name);
  return form;
}

describe('images: upload once, multipart uploads, data: URLs, fetching by url', () => {
  let t: TestServer;
  let origin: Server;
  let originUrl: string;
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  beforeAll(async () => {
    // A tiny image host on 127.0.0.1 (allow-listed) that also redirects to localhost (not allow-listed).
    origin = createServer((req, res) => {
      const port = (origin.address() as AddressInfo).port;
      if (req.url === '/gradient.png') res.writeHead(200, { 'content-type': 'image/png' }).end(readImage('gradient_64x48.png'));
      else if (req.url === '/moved') res.writeHead(302, { location: '/gradient.png' }).end();
      else if (req.url === '/elsewhere') res.writeHead(302, { location: `http://localhost:${port}/gradient.png` }).end();
      else res.writeHead(404).end('not found');
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    t = await startTestServer({
      env: { MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), IMAGE_STORE_MAX_BYTES: String(MAX_IMAGE_BYTES), MAX_BODY_BYTES: String(MAX_BODY_BYTES), IMAGE_URL_ALLOWED_HOSTS: '127.0.0.1', IMAGE_URL_ALLOW_PRIVATE: 'true' },
    });
  });
  afterAll(async () => {
    await t?.close();
    origin?.close();
  });

  it('uploadImage stores an image once; two questions by imageId answer as if the image were sent each time', async () => {
    const bytes = readImage('shapes_400x300.jpg');
    const before = Date.now();
    const upload = await t.gql(UploadImageDocument, { image: { base64: base64Image('shapes_400x300.jpg') } });
    expect(upload.body).toEqual({ data: { uploadImage: { id: sha256(bytes), bytes: bytes.length, format: 'jpeg', expiresAt: expect.any(String) } } });
    const expiresAt = Date.parse(upload.body.data!.uploadImage.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000 + 1000);

    const imageId = upload.body.data!.uploadImage.id;
    for (const question of QUESTIONS) {
      const byId = await t.gql(AnswerDocument, { input: { image: { imageId }, question } });
      const sent = await t.gql(AnswerDocument, { input: { image: { base64: base64Image('shapes_400x300.jpg') }, question } });
      expect(byId.body.errors).toBeUndefined();
      expect(byId.body.data?.answer).toEqual({ ...sent.body.data?.answer, timings: expect.any(Object) });
    }
    // The same file again is the same entry.
    const again = await t.gql(UploadImageDocument, { image: { base64: base64Image('shapes_400x300.jpg') } });
    expect(again.body.data?.uploadImage.id).toBe(imageId);
  });

  it('accepts data: URLs', async () => {
    const dataUrl = `data:image/png;base64,${base64Image('gradient_64x48.png')}`;
    const viaDataUrl = await t.gql(CaptionDocument, { input: { image: { base64: dataUrl } } });
    const plain = await t.gql(CaptionDocument, { input: { image: { base64: base64Image('gradient_64x48.png') } } });
    expect(viaDataUrl.body.data?.caption.caption).toBe(plain.body.data?.caption.caption);
    expect((await t.gql(UploadImageDocument, { image: { base64: dataUrl } })).body.data?.uploadImage).toMatchObject({ format: 'png', bytes: 265 });
  });

  it('multipart upload with the CSRF preflight header: uploadImage, caption and a batch of two files', async () => {
    const bytes = readImage('gradient_64x48.png');
    const headers = { 'apollo-require-preflight': 'true' };
    const upload = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers,
      body: multipart(print(UploadImageDocument), { image: { upload: null } }, { 0: { path: 'variables.image.upload', bytes, name: 'gradient.png' } }),
    });
    expect(upload.status).toBe(200);
    expect(await readJson(upload)).toEqual({ data: { uploadImage: { id: sha256(bytes), bytes: bytes.length, format: 'png', expiresAt: expect.any(String) } } });

    const expected = (await t.gql(CaptionDocument, { input: { image: { base64: base64Image('gradient_64x48.png') } } })).body.data!.caption;
    const caption = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'x-apollo-operation-name': 'Caption' },
      body: multipart(print(CaptionDocument), { input: { image: { upload: null } } }, { 0: { path: 'variables.input.image.upload', bytes, name: 'gradient.png' } }),
    });
    expect(await readJson(caption)).toEqual({ data: { caption: { ...expected, timings: expect.any(Object) } } });

    const batch = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers,
      body: multipart(print(CaptionBatchDocument), { inputs: [{ image: { upload: null } }, { image: { upload: null } }] }, {
        a: { path: 'variables.inputs.0.image.upload', bytes, name: 'a.png' },
        b: { path: 'variables.inputs.1.image.upload', bytes: readImage('shapes_400x300.jpg'), name: 'b.jpg' },
      }),
    });
    const body = await readJson(batch);
    expect(body.errors).toBeUndefined();
    expect(body.data.captionBatch.map((item: { batchSize: number }) => item.batchSize)).toEqual([2, 2]);
    expect(body.data.captionBatch[0].caption).toBe(expected.caption);
  });

  it('multipart upload without a preflight header is refused as possible CSRF (HTTP 400), without running', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      body: multipart(print(UploadImageDocument), { image: { upload: null } }, { 0: { path: 'variables.image.upload', bytes: readImage('gradient_64x48.png'), name: 'g.png' } }),
    });
    expect(response.status).toBe(400);
    expect(await readJson(response)).toEqual({
      errors: [
        {
          message:
            "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a 'content-type' header (with a type that is not one of application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a non-empty value for one of the following headers: apollo-require-preflight, x-apollo-operation-name\n",
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    });
  });

  it('multipart files over the image limit get IMAGE_TOO_LARGE; bodies over the body limit get HTTP 413', async () => {
    const tooBig = new Uint8Array(MAX_IMAGE_BYTES + 1000).fill(9);
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'apollo-require-preflight': 'true' },
      body: multipart(print(UploadImageDocument), { image: { upload: null } }, { 0: { path: 'variables.image.upload', bytes: tooBig, name: 'big.bin' } }),
    });
    expect(await readJson(response)).toEqual({
      data: null,
      errors: [{ message: `Expected an image of at most ${MAX_IMAGE_BYTES} bytes but received more`, locations: AT, path: ['uploadImage'], extensions: { code: 'IMAGE_TOO_LARGE', maxBytes: MAX_IMAGE_BYTES } }],
    });

    const huge = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'apollo-require-preflight': 'true' },
      body: multipart(print(UploadImageDocument), { image: { upload: null } }, { 0: { path: 'variables.image.upload', bytes: new Uint8Array(MAX_BODY_BYTES + 1), name: 'huge.bin' } }),
    });
    expect(huge.status).toBe(413);
    expect(await readJson(huge)).toEqual({
      errors: [{ message: expect.stringMatching(new RegExp(`^The request body is larger than the limit of ${MAX_BODY_BYTES} bytes`)), extensions: { code: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES } }],
    });
  });

  it('fetches by url from allow-listed hosts only, following redirects that stay allow-listed', async () => {
    expect((await t.gql(LimitsDocument)).body.data?.limits.imageUrlEnabled).toBe(true);
    const expected = (await t.gql(CaptionDocument, { input: { image: { base64: base64Image('gradient_64x48.png') } } })).body.data!.caption.caption;
    for (const path of ['/gradient.png', '/moved']) {
      const response = await t.gql(CaptionDocument, { input: { image: { url: `${originUrl}${path}` } } });
      expect(response.body.data?.caption.caption).toBe(expected);
    }
    const port = new URL(originUrl).port;
    const refusals: Array<[string, string, Record<string, unknown>]> = [
      [`http://localhost:${port}/gradient.png`, 'Fetching images from localhost is not allowed on this server (allowed: 127.0.0.1)', { host: 'localhost' }],
      [`${originUrl}/elsewhere`, 'Fetching images from localhost is not allowed on this server (allowed: 127.0.0.1)', { host: 'localhost' }],
      [`${originUrl}/missing.png`, `Could not fetch ${originUrl}/missing.png: HTTP 404`, { status: 404 }],
      ['file:///etc/passwd', 'Expected an http or https URL for image.url but received a file: URL', {}],
    ];
    for (const [url, message, details] of refusals) {
      const response = await t.gql(CaptionDocument, { input: { image: { url } } });
      expect(response.body).toEqual({ data: null, errors: [{ message, locations: AT, path: ['caption'], extensions: { code: 'BAD_USER_INPUT', field: 'image.url', ...details } }] });
    }
  });
});
