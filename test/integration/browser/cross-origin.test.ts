import { print } from 'graphql';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerDocument, CaptionDocument, CaptionStreamDocument, UploadImageDocument } from '../../generated/graphql.ts';
import { launchChromium } from '../../helpers/chromium.ts';
import { base64Image, startTestServer, type TestServer } from '../gateway/helpers.ts';

const IMAGE = 'gradient_64x48.png';
const QUESTION = 'what color is the sky?';

/** A blank page on its own origin (another port of 127.0.0.1), as a Vite dev server or a separate app would be. */
async function startPageServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>client app</title><p>client app</p>'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

interface PageResult {
  status: number;
  body: any;
  /** An exposed response header (the rest of the CORS-protected headers are hidden from the page). */
  requestId: string | null;
}

/** In the page: a JSON GraphQL POST through fetch, as Apollo Client's HttpLink sends it. */
function postJson(page: Page, url: string, query: string, variables: object): Promise<PageResult> {
  return page.evaluate(
    async ({ url, query, variables }) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return { status: response.status, body: await response.json(), requestId: response.headers.get('x-request-id') };
    },
    { url, query, variables },
  );
}

describe('a page on another origin calls the gateway from Chromium', () => {
  let browser: Browser;
  let page: Page;
  let pageServer: Server;
  let pageUrl: string;
  let t: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    ({ server: pageServer, url: pageUrl } = await startPageServer());
    [t, closed, browser] = await Promise.all([startTestServer(), startTestServer({ env: { NODE_ENV: 'production' } }), launchChromium()]);
    page = await browser.newPage();
    await page.goto(pageUrl);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([t?.close(), closed?.close()]);
    pageServer?.close();
  });

  it('runs caption and answer through fetch with a JSON body (preflighted), with the same results as a server-side client', async () => {
    const image = { base64: base64Image(IMAGE) };
    const caption = await postJson(page, `${t.url}/graphql`, print(CaptionDocument), { input: { image, model: 'blip-tiny' } });
    const expectedCaption = (await t.gql(CaptionDocument, { input: { image, model: 'blip-tiny' } })).body.data!.caption;
    expect(caption).toEqual({ status: 200, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), body: { data: { caption: { ...expectedCaption, timings: expect.any(Object) } } } });

    const answer = await postJson(page, `${t.url}/graphql`, print(AnswerDocument), { input: { image, model: 'blip-tiny-vqa', question: QUESTION } });
    const expectedAnswer = (await t.gql(AnswerDocument, { input: { image, model: 'blip-tiny-vqa', question: QUESTION } })).body.data!.answer;
    expect(answer).toEqual({ status: 200, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), body: { data: { answer: { ...expectedAnswer, timings: expect.any(Object) } } } });
  });

  it('uploads an image with a multipart request and the CSRF header, then captions it by imageId', async () => {
    const result = await page.evaluate(
      async ({ url, query, captionQuery, base64 }) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const form = new FormData();
        form.append('operations', JSON.stringify({ query, variables: { image: { upload: null } } }));
        form.append('map', JSON.stringify({ 0: ['variables.image.upload'] }));
        form.append('0', new Blob([bytes], { type: 'image/png' }), 'picture.png');
        const upload = await fetch(url, { method: 'POST', headers: { 'apollo-require-preflight': 'true' }, body: form });
        const uploaded = await upload.json();
        const caption = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: captionQuery, variables: { input: { image: { imageId: uploaded.data.uploadImage.id }, model: 'blip-tiny' } } }),
        });
        return { status: upload.status, uploaded, caption: await caption.json() };
      },
      { url: `${t.url}/graphql`, query: print(UploadImageDocument), captionQuery: print(CaptionDocument), base64: base64Image(IMAGE) },
    );
    expect(result.status).toBe(200);
    expect(result.uploaded).toEqual({ data: { uploadImage: { id: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: 265, format: 'png', expiresAt: expect.any(String) } } });
    const expected = (await t.gql(CaptionDocument, { input: { image: { base64: base64Image(IMAGE) }, model: 'blip-tiny' } })).body.data!.caption;
    expect(result.caption).toEqual({ data: { caption: { ...expected, timings: expect.any(Object) } } });
  });

  it('a production server that does not list the origin: the browser blocks the call ("Failed to fetch")', async () => {
    const outcome = await page.evaluate(async (url) => {
      try {
        await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ limits { maxBatchItems } }' }) });
        return 'response read';
      } catch (error) {
        return String(error);
      }
    }, `${closed.url}/graphql`);
    expect(outcome).toBe('TypeError: Failed to fetch');
  });

  it('streams a caption over a WebSocket (graphql-transport-ws) and over SSE (fetch), ending with the mutation\'s result', async () => {
    const input = { image: { base64: base64Image(IMAGE) }, model: 'blip-tiny' };
    const expected = (await t.gql(CaptionDocument, { input })).body.data!.caption;
    const query = print(CaptionStreamDocument);
    const overWebSocket = await page.evaluate(
      ({ url, query, input }) =>
        new Promise<{ protocol: string; messages: any[] }>((resolve, reject) => {
          const socket = new WebSocket(url, 'graphql-transport-ws');
          const messages: any[] = [];
          socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init' }));
          socket.onerror = () => reject(new Error('WebSocket error'));
          socket.onmessage = (message) => {
            const data = JSON.parse(message.data);
            if (data.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { input } } }));
            else messages.push(data);
            if (data.type === 'complete' || data.type === 'error') {
              socket.close();
              resolve({ protocol: socket.protocol, messages });
            }
          };
        }),
      { url: `${t.url.replace('http', 'ws')}/graphql`, query, input },
    );
    expect(overWebSocket.protocol).toBe('graphql-transport-ws');
    expect(overWebSocket.messages.at(-1)).toEqual({ id: '1', type: 'complete' });
    const wsEvents = overWebSocket.messages.filter((m) => m.type === 'next').map((m) => m.payload.data.captionStream);
    expect(wsEvents.at(-1)).toEqual({ text: expected.caption, delta: expect.any(String), done: true, result: { ...expected, timings: expect.any(Object) } });

    const overSse = await page.evaluate(
      async ({ url, query, input }) => {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query, variables: { input } }) });
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        return { status: response.status, type: response.headers.get('content-type'), text };
      },
      { url: `${t.url}/graphql/stream`, query, input },
    );
    expect(overSse.status).toBe(200);
    expect(overSse.type).toMatch(/^text\/event-stream/);
    const sseEvents = [...overSse.text.matchAll(/^event: next\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]).data.captionStream);
    expect(sseEvents.at(-1)).toEqual({ text: expected.caption, delta: expect.any(String), done: true, result: { ...expected, timings: expect.any(Object) } });
    expect(overSse.text).toMatch(/event: complete\n/);
  });

  it('a production server refuses the WebSocket of a page on another origin (no connection opens)', async () => {
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(url, 'graphql-transport-ws');
          socket.onopen = () => resolve('opened');
          socket.onclose = (event) => resolve(`closed ${event.code}`);
        }),
      `${closed.url.replace('http', 'ws')}/graphql`,
    );
    expect(outcome).toBe('closed 1006');
  });
});
