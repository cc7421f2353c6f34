import { ErrorCode, ServiceError } from '../errors.ts';
import { privateAddressesOf } from './address-check.ts';
import { readStreamLimited } from './read-stream.ts';

export interface ImageFetchOptions {
  /** `example.com` (that host only) or `*.example.com` (its subdomains); empty = fetching is off. */
  allowedHosts: readonly string[];
  timeoutMs: number;
  maxBytes: number;
  /** Also fetch from private, loopback and link-local addresses (default false: refused after DNS resolution). */
  allowPrivateAddresses?: boolean;
  /** How host names are resolved for the private-address check (tests); default: the system resolver, every address. */
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
    if (!options.allowPrivateAddresses) await refusePrivateTarget(target, options.resolveHost);
    let response: Response;
    try {
      response = await fetch(target, { redirect: 'manual', signal, headers: { accept: 'image/*' } });
    } catch (cause) {
      const reason = signal.aborted ? `no answer within ${options.timeoutMs} ms` : (cause as Error).message;
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: ${reason}`, { cause, details: { field: 'image.url' } });
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      if (redirects >= MAX_REDIRECTS) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${url}: more than ${MAX_REDIRECTS} redirects`, { details: { field: 'image.url' } });
      }
      target = checkUrl(new URL(response.headers.get('location') as string, target).href, options.allowedHosts);
      continue;
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: HTTP ${response.status}`, { details: { field: 'image.url', status: response.status } });
    }
    const length = Number(response.headers.get('content-length'));
    if (Number.isFinite(length) && length > options.maxBytes) {
      await response.body.cancel();
      throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${options.maxBytes} bytes but ${target.href} has ${length} bytes`, {
        details: { bytes: length, maxBytes: options.maxBytes },
      });
    }
    return readStreamLimited(response.body as AsyncIterable<Uint8Array>, options.maxBytes, target.href);
  }
}

/** Is `host` (lowercase, no port) covered by the allow-list? */
export function isHostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((allowed) => (allowed.startsWith('*.') ? name.endsWith(allowed.slice(1)) && name.length > allowed.length - 1 : name === allowed));
}

// Private: an allow-listed name must not lead into the server's own network. Every address the name resolves to is
// checked (a name with one public and one private address is refused), before the first request and every redirect.
async function refusePrivateTarget(target: URL, resolveHost: ((host: string) => Promise<string[]>) | undefined): Promise<void> {
  let blocked: string[];
  try {
    blocked = await privateAddressesOf(target.hostname, resolveHost);
  } catch (cause) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not fetch ${target.href}: cannot resolve ${target.hostname}`, { cause, details: { field: 'image.url', host: target.hostname } });
  }
  if (blocked.length > 0) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Fetching images from ${target.hostname} is not allowed: it resolves to a private, loopback or link-local address`, {
      details: { field: 'image.url', host: target.hostname },
    });
  }
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
