import cors from 'cors';
import type { RequestHandler } from 'express';
import type { IncomingMessage } from 'node:http';
import type { CorsConfig } from '../config/config.ts';

/** Headers browser clients send cross-origin: JSON bodies, Apollo's CSRF headers, request ids, auth and the admin key. */
export const CORS_ALLOWED_HEADERS: readonly string[] = ['content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id', 'authorization', 'x-admin-key'];

/** Response headers a cross-origin page may read: the request id for bug reports, Retry-After for 429s. */
export const CORS_EXPOSED_HEADERS: readonly string[] = ['x-request-id', 'retry-after'];

/** How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 2 hours). */
export const CORS_MAX_AGE_SECONDS = 7200;

/** Who may call from a browser: one answer for HTTP (CORS headers) and for WebSocket upgrades (403 or not). */
export interface OriginPolicy {
  /** True when a browser page at `origin` may talk to this server. Requests without an Origin header are not browsers' cross-origin requests and pass. */
  allows(req: IncomingMessage): boolean;
}

export function createOriginPolicy(config: CorsConfig): OriginPolicy {
  const listed = new Set(config.origins);
  return {
    allows(req) {
      const origin = req.headers.origin;
      if (origin === undefined || config.anyOrigin) return true;
      return listed.has(origin.toLowerCase()) || isSameOrigin(origin, req);
    },
  };
}

/**
 * The `cors` middleware for every route. `*` (any origin) answers `Access-Control-Allow-Origin: *` without
 * credentials; a list reflects the allowed origin (with `Vary: Origin`) and allows credentials. A refused origin gets
 * no CORS headers, so its browser withholds the response; same-origin pages need none. Preflights end here with 204.
 */
export function corsMiddleware(config: CorsConfig, policy: OriginPolicy): RequestHandler {
  const common = {
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: CORS_MAX_AGE_SECONDS,
    optionsSuccessStatus: 204,
  };
  if (config.anyOrigin) return cors({ ...common, origin: '*', credentials: false });
  const listed = cors({ ...common, origin: true, credentials: true });
  return function corsHeaders(req, res, next) {
    res.vary('Origin');
    if (req.headers.origin === undefined || policy.allows(req)) return listed(req, res, next);
    // A refused origin's preflight is answered here, without CORS headers: its browser then blocks the request.
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  };
}

// Private: a page served by this very server (the playground at `/`) calls it with its own origin.
function isSameOrigin(origin: string, req: IncomingMessage): boolean {
  try {
    return new URL(origin).host === req.headers.host?.toLowerCase();
  } catch {
    return false;
  }
}
