import proxyaddr from 'proxy-addr';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ServiceError } from '../errors.ts';
import type { ClientStreams } from '../gateway/client-streams.ts';
import { RequestRecord } from '../gateway/request-record.ts';
import type { RateLimiter } from '../gateway/token-bucket.ts';
import type { OriginPolicy } from './cors.ts';
import type { StreamOperations } from './stream-operations.ts';

/** The only WebSocket subprotocol spoken: graphql-ws's GraphQL over WebSocket. */
export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';

export interface GraphQLWsOptions {
  httpServer: Server;
  /** The path WebSocket upgrades are accepted on. */
  path: string;
  operations: StreamOperations;
  origins: OriginPolicy;
  streams: ClientStreams;
  /** Largest message a client may send (an operation with a base64 image). */
  maxPayloadBytes: number;
  /** The HTTP routes' rate limit, when on: a handshake takes a token like a request. */
  buckets?: RateLimiter;
  /** The client's key for the per-client bounds and the rate limit (see createClientKey). */
  clientOf: (req: IncomingMessage) => string;
  /**
   * Called with each subscription's record and its client's key when it completed: finished, failed, unsubscribed or
   * its socket closed (the log line and metrics; SSE requests get theirs from the HTTP routes).
   */
  onCompleted?: (record: RequestRecord, client: string) => void;
}

export interface GraphQLWsServer {
  /** Closes every connection (1001, going away) and stops accepting new ones. */
  dispose(): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server's upgrades. The handshake is checked before any WebSocket
 * exists, each refusal an HTTP answer and no 101:
 * - an origin that CORS would refuse gets 403: a page elsewhere must not use its visitor's browser to hold a
 *   socket here (cross-site WebSocket hijacking), since browsers do not apply CORS to WebSockets;
 * - a handshake without the `graphql-transport-ws` subprotocol gets 400;
 * - a client over its rate limit (when RATE_LIMIT_PER_MINUTE is set) gets 429 RATE_LIMITED;
 * - a client at its connection bound gets 429 TOO_MANY_CONNECTIONS.
 */
export function attachGraphQLWs(options: GraphQLWsOptions): GraphQLWsServer {
  const { clientOf } = options;
  const { operations, streams } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, handleProtocols: (protocols) => (protocols.has(GRAPHQL_TRANSPORT_WS) ? GRAPHQL_TRANSPORT_WS : false) });
  const signals = new WeakMap<object, AbortSignal>();
  // Per connection context, per subscription id: what the subscription did, observed when it completes.
  const records = new WeakMap<object, Map<string, RequestRecord>>();
  let nextRecord = 0;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== options.path) return refuse(socket, 404, 'NOT_FOUND', `No WebSocket endpoint at this path; use ${options.path}`);
    if (!options.origins.allows(req)) return refuse(socket, 403, 'FORBIDDEN', `WebSocket connections from ${req.headers.origin} are not allowed (see CORS_ORIGINS)`);
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!protocols.includes(GRAPHQL_TRANSPORT_WS)) return refuse(socket, 400, 'BAD_REQUEST', `Expected the WebSocket subprotocol ${GRAPHQL_TRANSPORT_WS}`);
    // A shared limiter (Redis) answers asynchronously and fails open by itself.
    const waited = options.buckets?.take(clientOf(req)) ?? 0;
    const proceed = (waitMs: number): void => {
      if (waitMs > 0) return refuse(socket, 429, 'RATE_LIMITED', `Too many requests from this client; retry after ${waitMs} ms`, { retryAfterMs: waitMs });
      let release: () => void;
      try {
        release = streams.openConnection(clientOf(req));
      } catch (error) {
        if (error instanceof ServiceError) return refuse(socket, 429, error.code, error.message, error.details);
        throw error;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const gone = new AbortController();
        signals.set(ws, gone.signal);
        ws.once('close', () => {
          gone.abort();
          release();
        });
        wss.emit('connection', ws, req);
      });
    };
    if (typeof waited === 'number') return proceed(waited);
    waited.then(proceed, () => proceed(0));
  };
  options.httpServer.on('upgrade', onUpgrade);

  const server = useServer(
    {
      onSubscribe: (ctx, id, payload) => {
        const record = new RequestRecord(`ws-${++nextRecord}`);
        const context = operations.context(clientOf(ctx.extra.request), signals.get(ctx.extra.socket) ?? new AbortController().signal, record);
        const prepared = operations.prepare(payload, context);
        if (!Array.isArray(prepared)) {
          const byId = records.get(ctx) ?? new Map<string, RequestRecord>();
          records.set(ctx, byId.set(id, record));
        }
        return prepared;
      },
      onComplete: (ctx, id) => {
        const record = records.get(ctx)?.get(id);
        records.get(ctx)?.delete(id);
        if (record) options.onCompleted?.(record, clientOf(ctx.extra.request));
      },
      onNext: (_ctx, _id, _payload, _args, result) => operations.formatResult(result),
      onError: (_ctx, _id, _payload, errors) => operations.formatErrors(errors),
    },
    wss,
  );

  return {
    async dispose() {
      options.httpServer.off('upgrade', onUpgrade);
      await server.dispose();
    },
  };
}

/** The client a connection counts against: its TCP peer, as the HTTP rate limit keys it. */
/**
 * The client's key for the per-client stream bounds: its address as the HTTP routes see it (`req.ip`), i.e. from
 * X-Forwarded-For only through the proxies TRUST_PROXY trusts (Express's compiled `trust proxy fn`).
 */
export function createClientKey(trust: (address: string, hop: number) => boolean): (req: IncomingMessage) => string {
  return (req) => (req.socket.remoteAddress === undefined ? 'unknown' : proxyaddr(req, trust));
}

// Private: an HTTP answer on the raw socket, in place of the 101.
function refuse(socket: Duplex, status: number, code: string, message: string, details: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code, ...details } }] });
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
