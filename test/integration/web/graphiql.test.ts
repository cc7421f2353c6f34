import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../src/config/config.ts';
import { recordForeignRequests, startWebFixture, type WebFixture } from './helpers.ts';

/**
 * GraphiQL at /graphiql in Chromium, with every request to another origin blocked and recorded: it renders from the
 * server's own files under the server's CSP, runs a query over HTTP and a subscription over graphql-ws.
 */
describe('GraphiQL (/graphiql) in Chromium, offline', () => {
  let web: WebFixture;
  beforeAll(async () => {
    web = await startWebFixture();
  });
  afterAll(async () => {
    await web?.close();
  });

  async function openGraphiQL() {
    const page = await web.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign = await recordForeignRequests(page, web.server.url);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    const response = await page.goto(`${web.server.url}/graphiql`);
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor();
    return { page, response, foreign, problems, sockets };
  }

  it('loads from the server alone and runs a query', async () => {
    const { page, response, foreign, problems, sockets } = await openGraphiQL();
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('.graphiql-query-editor .monaco-editor').first().click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type('query Limits { limits { maxBatchItems');
    await page.keyboard.press('Escape'); // closes the completion list over the editor
    // GraphiQL takes the editor's text into its state after a short debounce: a click before that runs the tab's
    // previous operation. Execute until the response is the query's (a few tries at most).
    const limits = page.locator('.graphiql-response', { hasText: '"maxBatchItems": 32' });
    // Monaco's suggestion list can open again after Escape, over the button: close it and wait until it is gone.
    const suggestions = page.locator('.suggest-widget.visible');
    for (let attempt = 1; ; attempt++) {
      await page.waitForTimeout(300);
      for (let closing = 0; closing < 20 && (await suggestions.count()) > 0; closing++) {
        await page.keyboard.press('Escape');
        await page.waitForTimeout(100);
      }
      await page.getByRole('button', { name: /^Execute query/ }).click();
      const shown = await limits.waitFor({ timeout: 10_000 }).then(() => true, () => false);
      if (shown) break;
      if (attempt === 3) throw new Error(`the query's response never showed; the response pane says: ${await page.locator('.graphiql-response').innerText()}`);
    }
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    expect(sockets).toEqual([]);
    await page.close();
  });

  it('runs the captionStream subscription over graphql-ws (the default tab)', async () => {
    const { page, foreign, problems, sockets } = await openGraphiQL();
    await page.getByRole('button', { name: /^Execute query/ }).click();
    await page.locator('.graphiql-response', { hasText: '"done": true' }).waitFor({ timeout: 30_000 });
    // Monaco renders spaces as no-break spaces and wraps long lines.
    const response = (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');
    expect(response).toContain('"model": "blip-demo"');
    expect(response).toContain('"caption": "a large red circle on a white background"');
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'graphiql-subscription.png') });
    expect(sockets).toEqual([`${web.server.url.replace('http:', 'ws:')}/graphql`]);
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps Apollo’s landing page at GET /graphql', async () => {
    const response = await fetch(`${web.server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/apollo/i);
  });
});
