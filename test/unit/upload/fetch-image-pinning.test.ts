import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, getDefaultAutoSelectFamily, setDefaultAutoSelectFamily, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage } from '../../../src/upload/fetch-image.ts';

const IMAGE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);

/**
 * The connection goes to the address that passed the private-address check, never to a second DNS answer (DNS
 * rebinding: a check answered with a public address, a connection answered with 127.0.0.1).
 */
describe('fetchImage connects to the checked address', () => {
  let server: Server;
  let port: number;
  const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      if (req.url === '/a.png') res.writeHead(200, { 'content-type': 'image/png' }).end(IMAGE);
      else if (req.url === '/moved') res.writeHead(302, { location: `http://other.test:${port}/a.png` }).end();
      else if (req.url === '/big-declared') res.writeHead(200, { 'content-length': '1000' }).write(new Uint8Array(10));
      else if (req.url === '/big-streamed') res.writeHead(200).write(new Uint8Array(1000));
      else if (req.url === '/stalled-body') res.writeHead(200).write(new Uint8Array(1));
      else if (req.url === '/silent') return;
      else res.writeHead(404).end('not found');
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => {
    requests.length = 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
  });

  /** Every connection to the test server has been closed (no response left half read). */
  async function expectNoOpenConnections(): Promise<void> {
    await expect.poll(() => sockets.size, { timeout: 2000 }).toBe(0);
  }

  it('regression: a name that rebinds to 127.0.0.1 after passing the check with a public address never reaches the local server', async () => {
    // `localhost` is what the system resolver answers with 127.0.0.1: the old implementation checked this resolver's
    // first (public) answer and then let fetch() resolve the name again, which connected to the server below.
    const answers: string[][] = [];
    const resolveHost = async (host: string) => {
      const answer = answers.length === 0 ? ['93.184.216.34'] : ['127.0.0.1'];
      answers.push([host, ...answer]);
      return answer;
    };
    const url = `http://localhost:${port}/a.png`;
    await expect(fetchImage(url, { allowedHosts: ['localhost'], timeoutMs: 500, maxBytes: 100, resolveHost })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      // The socket went to the checked public address, which refuses, is unreachable or does not answer in time here.
      message: expect.stringMatching(new RegExp(`^Could not fetch ${url.replace(/[.]/g, '\\.')}: (connect E[A-Z]+ 93\\.184\\.216\\.34:${port}|no answer within 500 ms)$`)),
    });
    expect(requests).toEqual([]);
    // One resolution for the check and the connection: the name is not resolved a second time.
    expect(answers).toEqual([['localhost', '93.184.216.34']]);
  });

  it('connects through the resolved address and keeps the original Host header (the system cannot resolve images.test)', async () => {
    const resolved: string[] = [];
    const resolveHost = async (host: string) => {
      resolved.push(host);
      if (host.endsWith('.test')) return ['127.0.0.1'];
      throw new Error(`unknown host ${host}`);
    };
    const options = { allowedHosts: ['*.test'], timeoutMs: 2000, maxBytes: 100, allowPrivateAddresses: true, resolveHost };
    const autoSelectFamily = getDefaultAutoSelectFamily();
    try {
      // Node asks the lookup for every address (autoSelectFamily) or for one: both forms are answered.
      for (const autoSelect of [true, false]) {
        setDefaultAutoSelectFamily(autoSelect);
        expect(await fetchImage(`http://images.test:${port}/a.png`, options)).toEqual(IMAGE);
      }
    } finally {
      setDefaultAutoSelectFamily(autoSelectFamily);
    }
    expect(requests.map((request) => [request.url, request.headers.host, request.headers.accept])).toEqual([
      ['/a.png', `images.test:${port}`, 'image/*'],
      ['/a.png', `images.test:${port}`, 'image/*'],
    ]);

    // A redirect target is resolved (and pinned) anew.
    resolved.length = 0;
    requests.length = 0;
    expect(await fetchImage(`http://images.test:${port}/moved`, options)).toEqual(IMAGE);
    expect(resolved).toEqual(['images.test', 'other.test']);
    expect(requests.map((request) => request.headers.host)).toEqual([`images.test:${port}`, `other.test:${port}`]);
    await expectNoOpenConnections();
  });

  it('refuses before connecting when any answer is private, and reports resolution failures', async () => {
    const options = { allowedHosts: ['images.test'], timeoutMs: 1000, maxBytes: 100 };
    await expect(fetchImage(`http://images.test:${port}/a.png`, { ...options, resolveHost: async () => ['93.184.216.34', '127.0.0.1'] })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'Fetching images from images.test is not allowed: it resolves to a private, loopback or link-local address',
      details: { field: 'image.url', host: 'images.test' },
    });
    const unresolvable = async () => {
      throw new Error('getaddrinfo ENOTFOUND images.test');
    };
    for (const allowPrivateAddresses of [false, true]) {
      await expect(fetchImage(`http://images.test:${port}/a.png`, { ...options, allowPrivateAddresses, resolveHost: unresolvable })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: `Could not fetch http://images.test:${port}/a.png: cannot resolve images.test`,
        details: { field: 'image.url', host: 'images.test' },
      });
    }
    expect(requests).toEqual([]);
  });

  it('closes the connection on every error path: HTTP errors, size limits and the timeout', async () => {
    const options = { allowedHosts: ['images.test'], timeoutMs: 300, maxBytes: 100, allowPrivateAddresses: true, resolveHost: async () => ['127.0.0.1'] };
    const base = `http://images.test:${port}`;
    await expect(fetchImage(`${base}/missing.png`, options)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: `Could not fetch ${base}/missing.png: HTTP 404`,
      details: { field: 'image.url', status: 404 },
    });
    await expect(fetchImage(`${base}/big-declared`, options)).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      message: `Expected an image of at most 100 bytes but ${base}/big-declared has 1000 bytes`,
      details: { bytes: 1000, maxBytes: 100 },
    });
    await expect(fetchImage(`${base}/big-streamed`, options)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', details: { maxBytes: 100 } });
    await expect(fetchImage(`${base}/silent`, options)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: `Could not fetch ${base}/silent: no answer within 300 ms` });
    await expect(fetchImage(`${base}/stalled-body`, options)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(new RegExp(`^Could not read ${base.replace(/[.]/g, '\\.')}/stalled-body: `)),
    });
    expect(requests.map((request) => request.url)).toEqual(['/missing.png', '/big-declared', '/big-streamed', '/silent', '/stalled-body']);
    await expectNoOpenConnections();
  });
});
