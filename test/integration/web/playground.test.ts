import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../src/config/config.ts';
import { renderScene, type ShapeColor, type ShapeKind } from '../../../tools/scenes/index.ts';
import { queueDepth, recordForeignRequests, startWebFixture, type WebFixture } from './helpers.ts';

/** Screenshots the tests save for people to look at (gitignored). */
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/**
 * The playground at / in Chromium, driven as a user would (keyboard for the buttons): the model list, one multipart
 * upload, a caption that streams in, a question, and a page closed mid-stream.
 */
describe('playground (/) in Chromium', () => {
  let web: WebFixture;
  beforeAll(async () => {
    web = await startWebFixture();
    await mkdir(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await web?.close();
  });

  /** Opens the page and records what it sends: every /graphql POST and every WebSocket. */
  async function openPlayground(viewport = { width: 1280, height: 900 }) {
    const page = await web.browser.newPage({ viewport });
    const foreign = await recordForeignRequests(page, web.server.url);
    const posts: Array<{ contentType: string; body: string }> = [];
    const sockets: string[] = [];
    const closedSockets: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url() === `${web.server.url}/graphql`) {
        posts.push({ contentType: request.headers()['content-type'] ?? '', body: request.postDataBuffer()?.toString('latin1') ?? '' });
      }
    });
    page.on('websocket', (socket) => {
      sockets.push(socket.url());
      socket.on('close', () => closedSockets.push(socket.url()));
    });
    await page.goto(`${web.server.url}/`);
    return { page, foreign, posts, sockets, closedSockets };
  }

  async function upload(page: Page, shape: ShapeKind, color: ShapeColor) {
    const scene = await renderScene({ shapes: [{ shape, color }] });
    await page.setInputFiles('#image-file', { name: `${color}-${shape}.png`, mimeType: 'image/png', buffer: scene.image });
    await page.locator('#image-status', { hasText: 'uploaded once' }).waitFor();
  }

  /** Records every text the element shows, from now on, in the page. */
  async function recordTexts(page: Page, selector: string): Promise<() => Promise<string[]>> {
    await page.evaluate((target) => {
      const element = document.querySelector(target)!;
      const texts: string[] = [];
      (window as unknown as Record<string, string[]>)[`texts:${target}`] = texts;
      new MutationObserver(() => texts.push(element.textContent ?? '')).observe(element, { childList: true, characterData: true, subtree: true });
    }, selector);
    return () => page.evaluate((target) => (window as unknown as Record<string, string[]>)[`texts:${target}`], selector);
  }

  it('lists the models, uploads once, streams a caption naming colour and shape, answers a question', async () => {
    const { page, foreign, posts, sockets, closedSockets } = await openPlayground();

    // The registry as visible text, grouped by task, with state and install commands.
    const models = page.locator('#models');
    await models.getByText('blip-demo-vqa', { exact: true }).waitFor();
    const captioning = page.getByRole('region', { name: 'Captioning' });
    const vqa = page.getByRole('region', { name: 'Visual question answering' });
    await expect(captioning.locator('[data-model="blip-demo"]').innerText()).resolves.toMatch(/installed[\s\S]*unloaded/);
    await expect(vqa.locator('[data-model="blip-demo-vqa"]').count()).resolves.toBe(1);
    const notInstalled = captioning.locator('[data-model="blip-base"]');
    await expect(notInstalled.innerText()).resolves.toContain('not installed');
    await expect(notInstalled.locator('.install').innerText()).resolves.toMatch(/^Install: npx blip-gateway pull blip-base$/s);

    // Nothing long-lived yet: one models query, no WebSocket.
    expect(sockets).toEqual([]);
    expect(posts.map((post) => post.body)).toEqual([expect.stringContaining('PlaygroundModels')]);

    await page.selectOption('#caption-model', 'blip-demo');
    await upload(page, 'circle', 'red');
    // The preview shows the picture (it decoded under the page's CSP).
    await expect(page.locator('#preview').evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth > 0)).resolves.toBe(true);
    // The image went once, as a multipart uploadImage with the CSRF header's preflight; still no WebSocket.
    const uploads = posts.filter((post) => post.body.includes('uploadImage'));
    expect(uploads).toHaveLength(1);
    expect(uploads[0].contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(sockets).toEqual([]);

    // Caption, started from the keyboard.
    const captionTexts = await recordTexts(page, '#caption-text');
    await page.focus('#caption-start');
    await page.keyboard.press('Enter');
    await page.locator('#caption-status', { hasText: /^(Done|Failed)/ }).waitFor();
    await expect(page.locator('#caption-errors').innerText()).resolves.toBe('');
    const caption = await page.locator('#caption-text').innerText();
    expect(caption.split(' ')).toEqual(expect.arrayContaining(['red', 'circle']));
    await expect(page.locator('#caption-meta').innerText()).resolves.toMatch(/Model\s+blip-demo\s+Batch size\s+\d+\s+Server timings\s+queue .* total [\d.]+ m?s/);
    expect(sockets).toEqual([`${web.server.url.replace('http:', 'ws:')}/graphql`]);
    // Streamed: at least three growing texts before the final one. This needs the token events of the backend seam
    // (until they land the stream carries the final event only).
    const partials = [...new Set((await captionTexts()).filter((text) => text !== '' && text !== caption))];
    expect.soft(partials.length, `partial texts seen: ${JSON.stringify(partials)}`).toBeGreaterThanOrEqual(3);

    // A question, submitted with Enter in the question field.
    await page.selectOption('#answer-model', 'blip-demo-vqa');
    await page.fill('#question', 'what color is the circle?');
    await page.press('#question', 'Enter');
    await page.locator('#answer-status', { hasText: /^(Done|Failed)/ }).waitFor();
    await expect(page.locator('#answer-errors').innerText()).resolves.toBe('');
    await expect(page.locator('#answer-text').innerText()).resolves.toBe('red');
    await expect(page.locator('#answer-meta').innerText()).resolves.toMatch(/Model\s+blip-demo-vqa/);

    // The WebSocket lives only while a stream runs: the client closes it after the last one ended.
    await expect.poll(() => closedSockets.length, { timeout: 5000 }).toBe(sockets.length);

    await page.screenshot({ path: join(ARTIFACTS, 'playground-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'playground-phone.png'), fullPage: true });
    // The page fits a phone's width: nothing wider than the viewport.
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('takes a dropped or a pasted image too, each sent once as a multipart uploadImage', async () => {
    const { page, posts, sockets } = await openPlayground();
    await page.locator('#models').getByText('blip-demo-vqa', { exact: true }).waitFor();
    const png = (await renderScene({ shapes: [{ shape: 'triangle', color: 'green' }] })).image.toString('base64');
    const give = (how: 'drop' | 'paste', name: string) =>
      page.evaluate(
        ({ how, name, png }) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));
          const event = how === 'drop' ? new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }) : new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true });
          (how === 'drop' ? document.getElementById('drop-zone')! : document.body).dispatchEvent(event);
        },
        { how, name, png },
      );
    await give('drop', 'dropped.png');
    await page.locator('#image-status', { hasText: /^dropped\.png: png, .* uploaded once/ }).waitFor();
    await give('paste', 'pasted.png');
    await page.locator('#image-status', { hasText: /^pasted\.png: png, .* uploaded once/ }).waitFor();
    const uploads = posts.filter((post) => post.body.includes('uploadImage'));
    expect(uploads.map((post) => post.contentType.split(';')[0])).toEqual(['multipart/form-data', 'multipart/form-data']);
    await expect(page.locator('#preview').getAttribute('alt')).resolves.toBe('Preview of pasted.png');
    expect(sockets).toEqual([]);
    await page.close();
  });

  it('shows errors with their extensions.code', async () => {
    const { page } = await openPlayground();
    await page.locator('#models').getByText('blip-demo-vqa', { exact: true }).waitFor();
    await upload(page, 'square', 'blue');
    await page.fill('[name="numBeams"]', '1000');
    await page.click('#caption-start');
    await page.locator('#caption-status', { hasText: 'Failed.' }).waitFor();
    await expect(page.locator('#caption-errors .error-code').allInnerTexts()).resolves.toEqual(['BAD_USER_INPUT']);
    await expect(page.locator('#caption-errors').innerText()).resolves.toContain('Expected integer 1..16 for numBeams but received 1000');
    await page.close();
  });

  it('closing the page mid-stream frees its rows: blip_queue_depth is back to 0 within a second', async () => {
    const { page } = await openPlayground();
    await page.locator('#models').getByText('blip-demo-vqa', { exact: true }).waitFor();
    await page.selectOption('#caption-model', 'blip-demo');
    await upload(page, 'star', 'yellow');
    // 16 beams held to 64 tokens: seconds of decoding, far more than the second the rows get to go away.
    await page.fill('[name="numBeams"]', '16');
    await page.fill('[name="minLength"]', '64');
    await page.fill('[name="maxLength"]', '64');
    await page.click('#caption-start');
    const deadline = Date.now() + 10_000;
    while ((await queueDepth(web.server)) === 0) {
      if (Date.now() > deadline) throw new Error('the caption never showed in blip_queue_depth');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await expect(page.locator('#caption-status').innerText()).resolves.not.toMatch(/^Done/);
    await page.close();
    const closed = Date.now();
    let depth = await queueDepth(web.server);
    while (depth > 0 && Date.now() - closed < 1000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      depth = await queueDepth(web.server);
    }
    expect(depth).toBe(0);
  });
});
