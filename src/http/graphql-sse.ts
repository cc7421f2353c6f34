import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { createHandler } from 'graphql-sse/lib/use/express';
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type { OperationArgs } from 'graphql-sse';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ClientStreams } from '../gateway/client-streams.ts';
import type { OriginPolicy } from './cors.ts';
import { sendGraphQLError } from './error-body.ts';
import { recordOf } from './request-log.ts';
import { abortOnClose } from './rest.ts';
import type { StreamOperations } from './stream-operations.ts';

/**
 * GraphQL over Server-Sent Events (graphql-sse, "distinct connections" mode: one request per subscription, GET with
 * the query in the URL or POST with a JSON body, `accept: text/event-stream`). Request errors (parse, validation,
 * variables) get HTTP 400 with a JSON body, as on POST /graphql; the subscription's own errors arrive as a `next`
 * event with the usual `extensions.code`, then `complete`.
 */
export function graphqlSse(operations: StreamOperations, clientOf: (req: IncomingMessage) => string): RequestHandler {
  const handler = createHandler({
    onSubscribe: (req, params) => {
      const res = req.context.res;
      const context = operations.context(clientOf(req.raw), abortOnClose(res), recordOf(res));
      const prepared = operations.prepare(params, context);
      // graphql-sse types the context as a plain record; ours is an interface (the cast changes nothing at run time).
      if (!Array.isArray(prepared)) return prepared as ExecutionArgs as OperationArgs;
      // Request errors answer as POST /graphql does: HTTP 400 with a JSON body, before any event stream opens.
      const body = JSON.stringify({ errors: operations.formatErrors(prepared) });
      return [body, { status: 400, statusText: 'Bad Request', headers: { 'content-type': 'application/json; charset=utf-8' } }];
    },
    // Formatted errors are what gets serialized; graphql-sse's types expect GraphQLError instances there.
    onNext: (_ctx, _req, result) => operations.formatResult(result as ExecutionResult) as ExecutionResult,
  });
  return function streamOperation(req, res, next) {
    handler(req, res).catch(next);
  };
}

/**
 * Before an SSE request is read: refuses origins that CORS would refuse (403, so that a page elsewhere cannot make
 * its visitors' browsers run generations here, even unread), and clients at their connection bound (429
 * TOO_MANY_CONNECTIONS). The request holds its connection slot until it closes.
 */
export function sseAdmission(origins: OriginPolicy, streams: ClientStreams, clientOf: (req: IncomingMessage) => string): RequestHandler {
  return function admitStream(req, res, next) {
    if (req.method === 'OPTIONS') return next();
    if (!origins.allows(req)) {
      sendGraphQLError(res, 403, ErrorCode.FORBIDDEN, `Requests from ${req.headers.origin} are not allowed (see CORS_ORIGINS)`);
      return;
    }
    let release: () => void;
    try {
      release = streams.openConnection(clientOf(req));
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      sendGraphQLError(res, 429, error.code, error.message, error.details);
      return;
    }
    res.once('close', release);
    next();
  };
}
