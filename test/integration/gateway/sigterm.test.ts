import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64Image, copyShippedRegistry } from './helpers.ts';

/**
 * Graceful shutdown of the real process: `npm start`'s command with SIGTERM while a request is in flight. The request
 * still gets its result, new connections are refused, and the process exits 0.
 */
const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

describe('SIGTERM', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'blip-sigterm-'));
    await copyShippedRegistry(join(scratch, 'registry'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('finishes the request in flight, then exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REGISTRY_DIR: join(scratch, 'registry'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exit = once(child, 'exit');
    // Keep reading the log to the end (closing the pipe early would make the server's next log write fail).
    const messages: Array<{ msg: string; url?: string }> = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      messages.push(JSON.parse(line));
      waiters.splice(0).forEach((wake) => wake());
    });
    const logged = async (msg: string) => {
      while (!messages.some((m) => m.msg === msg)) await new Promise<void>((resolve) => waiters.push(resolve));
      return messages.find((m) => m.msg === msg)!;
    };
    const url = (await logged('blip-gateway is listening')).url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    const slowInput = { image: { base64: base64Image('shapes_400x300.jpg') }, options: { numBeams: 8, minLength: 40, maxLength: 40 } };
    const inFlight = fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($i: CaptionInput!) { caption(input: $i) { caption sequence } }', variables: { i: slowInput } }),
    });
    // Signal once the request is being handled (the log line for the model load comes first).
    await logged('load-started');
    child.kill('SIGTERM');
    const response = await inFlight;
    const body = await response.json();
    expect(response.status).toBe(200);
    expect(body.data.caption.sequence).toHaveLength(40);
    const [code] = await exit;
    expect(code).toBe(0);
    await expect(fetch(url!)).rejects.toThrow();
  });
});
