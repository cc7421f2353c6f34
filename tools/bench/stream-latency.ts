/**
 * `npm run bench:stream`: time to first token and time to the final result of `captionStream`, as a browser sees them.
 * Headless Chromium (Debian's, as the browser tests use it) opens a page of the server's origin and reads the subscription
 * over Server-Sent Events (`POST /graphql/stream`) with `fetch`; the page's own clock stamps the first event that
 * carries text and the `done` event. Variants: blip-demo (the embedded default, 3-4 tokens) and blip-base with random
 * weights (20 tokens, min = max, so that every caption costs the same). Each picture is new (no embedding cache).
 *
 *   npm run bench:stream [-- --runs N] [-- --json FILE]
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, link, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { startServer } from '../../src/main.ts';
import { launchChromium } from '../../test/helpers/chromium.ts';
import { buildRandomModel, distinctImage, median, REPO, round } from './common.ts';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 7;
const jsonFile = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const log = (message: string) => process.stderr.write(`${message}\n`);

const cacheDir = join(tmpdir(), 'blip-gateway-bench');
await mkdir(cacheDir, { recursive: true });
const baseDir = await buildRandomModel('blip-image-captioning-base', cacheDir, log);
const registryDir = await mkdtemp(join(tmpdir(), 'stream-bench-'));
for (const name of ['blip-demo']) {
  await mkdir(join(registryDir, name));
  await copyFile(join(REPO, 'registry', name, 'variant.json'), join(registryDir, name, 'variant.json'));
}
const baseVariant = join(registryDir, 'blip-base-random');
await mkdir(baseVariant);
for (const file of await readdir(baseDir)) if ((await stat(join(baseDir, file))).isFile()) await link(join(baseDir, file), join(baseVariant, file));
const manifest = JSON.parse(await readFile(join(baseVariant, 'manifest.json'), 'utf8'));
await rm(join(baseVariant, 'manifest.json'));
await writeFile(join(baseVariant, 'manifest.json'), JSON.stringify({ ...manifest, name: 'blip-base-random' }));
await writeFile(join(baseVariant, 'variant.json'), JSON.stringify({ name: 'blip-base-random', task: 'caption', description: 'blip-base, random weights', source: { huggingFace: 'Salesforce/blip-image-captioning-base' } }));

const server = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', REGISTRY_DIR: registryDir, LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) });
const browser = await launchChromium();
const page = await browser.newPage();
// A page of the server's own origin (about:blank has the opaque origin "null", which the stream routes refuse).
await page.goto(`${server.url}/healthz`);

const QUERY = 'subscription ($input: CaptionInput!) { captionStream(input: $input) { text done } }';
/** One caption in the page: milliseconds to the first event with text, to `done`, and how many partial events came. */
async function measure(model: string, base64: string, maxNewTokens: number) {
  return page.evaluate(
    async ({ url, query, input }) => {
      const t0 = performance.now();
      const response = await fetch(`${url}/graphql/stream`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query, variables: { input } }) });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let first: number | undefined;
      let partials = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data:'));
          if (!block.startsWith('event: next') || !data) continue;
          const event = JSON.parse(data.slice(5)).data?.captionStream;
          if (!event) throw new Error(block);
          if (first === undefined && event.text !== '') first = performance.now() - t0;
          if (event.done) return { first: first ?? performance.now() - t0, final: performance.now() - t0, partials };
          partials++;
        }
      }
      throw new Error(`the stream ended without a final event (HTTP ${response.status}: ${buffer.slice(0, 300)})`);
    },
    { url: server.url, query: QUERY, input: { model, image: { base64 }, options: maxNewTokens === 20 ? { minLength: 21, maxLength: 21 } : { maxNewTokens } } },
  );
}

const results: Record<string, { first_ms: number[]; final_ms: number[]; partials: number[] }> = {};
let seed = 1_000_000;
for (const [model, tokens] of [['blip-demo', 8], ['blip-base-random', 20]] as const) {
  await measure(model, (await distinctImage(seed++)).toString('base64'), tokens); // loads the model (not counted)
  const r = (results[model] = { first_ms: [] as number[], final_ms: [] as number[], partials: [] as number[] });
  for (let i = 0; i < runs; i++) {
    const m = await measure(model, (await distinctImage(seed++)).toString('base64'), tokens);
    r.first_ms.push(round(m.first));
    r.final_ms.push(round(m.final));
    r.partials.push(m.partials);
  }
  log(`${model}: first token median ${median(r.first_ms)} ms (min ${Math.min(...r.first_ms)}, max ${Math.max(...r.first_ms)}), final median ${median(r.final_ms)} ms (min ${Math.min(...r.final_ms)}, max ${Math.max(...r.final_ms)}), partial events ${median(r.partials)}`);
}
await browser.close();
await server.close();
await rm(registryDir, { recursive: true, force: true });
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify({ runs, results }, null, 2)}\n`);
