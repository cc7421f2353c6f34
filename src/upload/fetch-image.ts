import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ErrorCode, ServiceError } from '../errors.ts';
import { addressesOf, isPrivateAddress } from './address-check.ts';
import { readStreamLimited } from './read-stream.ts';

export interface ImageFetchOptions {
  /** `example.com` (that host only) or `*.example.com` (its subdomains); empty = fetching is off. */
  allowedHosts: readonly string[];
  timeoutMs: number;
  maxBytes: number;
  /** Also fetch from private, loopback and link-local addresses (default false: refused after DNS resolution). */
  allowPrivateAddresses?: boolean;
  /** How host names are resolved, for the private-address check and the connection (tests); default: the system resolver, every address. */
  resolveHost?: (host: string) => Promise<string[]>;
}

const MAX_REDIRECTS = 3;

/**
 * Downloads an image the client named by URL. Off unless hosts are allow-listed (a server that fetches arbitrary URLs
 * can be aimed at its own network: SSRF). Every redirect target must be allow-listed too. Throws BAD_USER_INPUT when
 * fetching is off, the URL or host is not accepted, or the download fails; IMAGE_TOO_LARGE over `maxBytes`.
 */
export async function fetchImage(url: string, options: ImageFetchOptions): Promise<Uint8Array> {
  if (options.allowedHosts.length === 0) {
    throw new ServiceError(
      ErrorCode.BAD_USER_INPUT,
      'Fetching images by url is disabled on this server (no IMAGE_URL_ALLOWED_HOSTS configured); send the image as base64, as a multipart upload or by imageId',
      { details: { field: 'image.url' } },
    );
  }
  const signal = AbortSignal.timeout(options.timeoutMs);
  let target = checkUrl(url, options.allowedHosts);
  for (let redirects = 0; ; redirects++) {
    const addresses = await resolveTarget(target, options);
    let response: IncomingMessage;
    try {
      response = await send(target, addresses, signal);
    } catch (cause) {
      const reason = signal.aborted ? `no answer within ${options.timeoutMs} ms` : (cause as Error).message;
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: ${reason}`, { cause, details: { field: 'image.url' } });
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.destroy();
      if (redirects >= MAX_REDIRECTS) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${url}: more than ${MAX_REDIRECTS} redirects`, { details: { field: 'image.url' } });
      }
      target = checkUrl(new URL(location, target).href, options.allowedHosts);
      continue;
    }
    // 204 and 205 have no body to read.
    if (status < 200 || status > 299 || status === 204 || status === 205) {
      response.destroy();
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: HTTP ${status}`, { details: { field: 'image.url', status } });
    }
    const length = Number(response.headers['content-length']);
    if (Number.isFinite(length) && length > options.maxBytes) {
      response.destroy();
      throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${options.maxBytes} bytes but ${target.href} has ${length} bytes`, {
        details: { bytes: length, maxBytes: options.maxBytes },
      });
    }
    try {
      return await readStreamLimited(response, options.maxBytes, target.href);
    } finally {
      response.destroy();
    }
  }
}

/** Is `host` (lowercase, no port) covered by the allow-list? */
export function isHostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((allowed) => (allowed.startsWith('*.') ? name.endsWith(allowed.slice(1)) && name.length > allowed.length - 1 : name === allowed));
}

// Private: an allow-listed name must not lead into the server's own network. The name is resolved once and every
// address is checked (a name with one public and one private address is refused), before the first request and every
// redirect; the connection then goes to these addresses only (see `pinnedLookup`).
async function resolveTarget(target: URL, options: ImageFetchOptions): Promise<string[]> {
  let addresses: string[];
  try {
    addresses = await addressesOf(target.hostname, options.resolveHost);
    if (addresses.length === 0) throw new Error(`no address for ${target.hostname}`);
  } catch (cause) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: cannot resolve ${target.hostname}`, { cause, details: { field: 'image.url', host: target.hostname } });
  }
  if (!options.allowPrivateAddresses && addresses.some(isPrivateAddress)) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Fetching images from ${target.hostname} is not allowed: it resolves to a private, loopback or link-local address`, {
      details: { field: 'image.url', host: target.hostname },
    });
  }
  return addresses;
}

// Private: one GET to `target`, connected to `addresses` (already checked), without connection reuse. Settles with the
// response head; the timeout then cuts off the body (the stream fails with the timeout as its error). Errors the
// request reports after the head (a reset socket) reach the reader through the response.
function send(target: URL, addresses: readonly string[], signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
      agent: false,
      headers: { accept: 'image/*' },
      lookup: pinnedLookup(target.hostname.replace(/^\[|\]$/g, ''), addresses),
    });
    const abort = () => request.destroy(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    request.on('error', (error) => {
      signal.removeEventListener('abort', abort);
      reject(error);
    });
    request.once('response', (response) => {
      signal.removeEventListener('abort', abort);
      const cut = () => response.destroy(signal.reason as Error);
      signal.addEventListener('abort', cut, { once: true });
      response.once('close', () => signal.removeEventListener('abort', cut));
      resolve(response);
    });
    request.end();
  });
}

// Private: the socket's name lookup, answering only with the addresses that were resolved and checked for this request
// (an address literal is not looked up at all). The global fetch() resolved the name again after the check, so a DNS
// server that rebinds could answer the check with a public address and the connection with 127.0.0.1 or
// 169.254.169.254. Node asks for one address, or for all of them (`all`, e.g. for autoSelectFamily).
function pinnedLookup(host: string, addresses: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const entries = addresses.map((address) => ({ address, family: isIP(address) })).filter((entry) => entry.family !== 0 && (family === 0 || entry.family === family));
    process.nextTick(() => {
      if (hostname !== host || entries.length === 0) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '');
      } else if (options.all) {
        callback(null, entries);
      } else {
        callback(null, entries[0].address, entries[0].family);
      }
    });
  };
}

// Private: http(s) only, no credentials in the URL, and an allow-listed host.
function checkUrl(text: string, allowedHosts: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an absolute http(s) URL for image.url but received ${JSON.stringify(text.slice(0, 100))}`, {
      details: { field: 'image.url' },
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an http or https URL for image.url but received a ${url.protocol} URL`, { details: { field: 'image.url' } });
  }
  if (url.username !== '' || url.password !== '') {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected an image.url without user name or password', { details: { field: 'image.url' } });
  }
  if (!isHostAllowed(url.hostname, allowedHosts)) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Fetching images from ${url.hostname} is not allowed on this server (allowed: ${allowedHosts.join(', ')})`, {
      details: { field: 'image.url', host: url.hostname },
    });
  }
  return url;
}
