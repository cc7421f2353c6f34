import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { RequestRecord } from '../gateway/request-record.ts';

/** A client-chosen request id is kept when it is short and plain; anything else is replaced. */
const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** The request's record (set by `observeRequests`). */
export function recordOf(res: Response): RequestRecord | undefined {
  return res.locals.record as RequestRecord | undefined;
}

/**
 * Gives every request an id (its `x-request-id` header when plain enough, else a new UUID), echoes it in the response,
 * and attaches a RequestRecord that the routes fill in. When the response is finished (or the client went away),
 * writes exactly one log line and hands the record to `onFinished` (metrics). The line never holds the body, the
 * variables, images or texts: only what the record collected.
 */
export function observeRequests(logger: Logger, onFinished: (record: RequestRecord, req: Request, res: Response) => void): RequestHandler {
  return function requestObserver(req, res, next) {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    const record = new RequestRecord(requestId);
    res.locals.record = record;
    res.setHeader('x-request-id', requestId);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      try {
        logger.info(logLine(record, req, res), 'request');
        onFinished(record, req, res);
      } catch {
        // Logging and metrics must never break a response; there is nowhere better to report their failure.
      }
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

function logLine(record: RequestRecord, req: Request, res: Response): Record<string, unknown> {
  return {
    requestId: record.requestId,
    // The client's address: the TCP peer, or X-Forwarded-For through the proxies TRUST_PROXY trusts.
    clientIp: req.ip,
    method: req.method,
    path: req.originalUrl.split('?')[0],
    status: res.writableFinished ? res.statusCode : 499,
    ...recordFields(record),
  };
}

/**
 * The one log line of a GraphQL-over-WebSocket subscription, written when it completes (finished, failed, unsubscribed
 * or its socket closed). One socket carries many subscriptions, so each gets its own line and id (`ws-N`), with the
 * same fields as an HTTP request's line apart from method and status.
 */
export function logSubscription(logger: Logger, record: RequestRecord, clientIp: string): void {
  try {
    logger.info({ requestId: record.requestId, clientIp, transport: 'graphql-ws', path: '/graphql', ...recordFields(record) }, 'subscription');
  } catch {
    // As for requests: logging must never break a subscription.
  }
}

/** What a record collected: duration, operation name, each operation's variants, items, batch sizes and error codes. */
function recordFields(record: RequestRecord): Record<string, unknown> {
  const codes = record.allCodes();
  return {
    durationMs: round(performance.now() - record.startedAt),
    ...(record.graphqlOperationName === undefined ? {} : { operationName: record.graphqlOperationName }),
    operations: record.operations.map((op) => ({
      operation: op.operation,
      variants: op.variants,
      durationMs: round(op.durationMs),
      items: op.served.length + op.codes.length,
      batchSizes: op.served.map((item) => item.batchSize),
      ...(op.codes.length > 0 ? { errorCodes: op.codes } : {}),
    })),
    ...(codes.length > 0 ? { errorCodes: [...new Set(codes)] } : {}),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
