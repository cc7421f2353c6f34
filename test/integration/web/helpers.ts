import type { Browser, Page } from 'playwright-core';
import { buildWeb } from '../../../web/build.ts';
import { launchChromium } from '../../helpers/chromium.ts';
import { startTestServer, type TestServer } from '../gateway/helpers.ts';

export interface WebFixture {
  server: TestServer;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * The real server on port 0 with the built pages (web/dist/, built now unless it matches the sources, as `npm start`
 * does), and Debian's Chromium.
 */
export async function startWebFixture(): Promise<WebFixture> {
  await buildWeb();
  const server = await startTestServer();
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Requests (and WebSockets) a page makes to anything but `origin`; they are aborted, so none leaves the machine. */
export async function recordForeignRequests(page: Page, origin: string): Promise<string[]> {
  const foreign: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('websocket', (socket) => {
    const url = new URL(socket.url());
    if (`http://${url.host}` !== origin) foreign.push(socket.url());
  });
  return foreign;
}

/** The sum of `blip_queue_depth` over every variant, from GET /metrics. */
export async function queueDepth(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('blip_queue_depth{') || line.startsWith('blip_queue_depth '))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
