import type { RequestHandler } from 'express';
import { ErrorCode } from '../errors.ts';
import { TokenBuckets, type RateLimiter } from '../gateway/token-bucket.ts';
import { discardBody } from './body-limit.ts';
import type { ErrorSender } from './error-body.ts';

/**
 * Refuses a client (keyed by its IP address as express sees it: the socket's peer unless `trust proxy` is set) that
 * is over its token bucket with HTTP 429, RATE_LIMITED, `retryAfterMs` and a Retry-After header, before the body is
 * read (a body up to `maxDrainBytes` is then read and discarded, so that the client can read the 429). `perMinute` 0
 * turns the limit off. The buckets are in process by default; a shared limiter (Redis) answers asynchronously and
 * fails open by itself.
 */
export function rateLimit(perMinute: number, burst: number, send: ErrorSender, maxDrainBytes: number, buckets?: RateLimiter): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  const limiter = buckets ?? new TokenBuckets(perMinute, burst);
  return function limitRate(req, res, next) {
    const decide = (waitMs: number) => {
      if (waitMs === 0) return next();
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      discardBody(req, res, maxDrainBytes);
      send(res, 429, ErrorCode.RATE_LIMITED, `Too many requests from this client; retry after ${waitMs} ms`, { retryAfterMs: waitMs });
    };
    const waited = limiter.take(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (typeof waited === 'number') return decide(waited);
    waited.then(decide, () => next());
  };
}
