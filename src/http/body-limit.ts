import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ErrorCode } from '../errors.ts';
import type { ErrorSender } from './error-body.ts';

/**
 * Refuses a request whose declared Content-Length is over `maxBytes` with 413 before reading any of it. Bodies without
 * a length (chunked) are limited while they are read: by express.json for JSON, by graphql-upload's per-file and
 * per-field limits for multipart.
 */
export function limitContentLength(maxBytes: number, send: ErrorSender): RequestHandler {
  return function contentLengthLimit(req, res, next) {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      // Close the connection after answering: the body is not read, so the connection cannot be reused.
      res.setHeader('connection', 'close');
      send(res, 413, ErrorCode.PAYLOAD_TOO_LARGE, tooLargeMessage(maxBytes, declared), { maxBytes });
      req.resume();
      return;
    }
    next();
  };
}

/**
 * Turns errors of the body parsers (express.json, graphql-upload) into the route's error shape: oversized bodies are
 * 413 PAYLOAD_TOO_LARGE, malformed ones 400 with `badRequestCode`. Anything else is a 500 with a generic message.
 */
export function bodyErrorHandler(maxBytes: number, send: ErrorSender, badRequestCode: string, onUnexpected: (error: unknown) => void): ErrorRequestHandler {
  return function handleBodyError(error, req, res, next) {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = typeof error?.status === 'number' ? error.status : typeof error?.statusCode === 'number' ? error.statusCode : 500;
    const tooManyFiles = /max file uploads exceeded/.test(String(error?.message));
    if (status === 413 && tooManyFiles) {
      // graphql-upload reports too many files as 413 too; it is not about size, so say what is wrong.
      const maxFiles = Number.parseInt(String(error.message), 10);
      send(res, 400, ErrorCode.BAD_USER_INPUT, `Expected at most ${maxFiles} files in one multipart request`, { maxFiles });
    } else if (status === 413) {
      send(res, 413, ErrorCode.PAYLOAD_TOO_LARGE, tooLargeMessage(maxBytes), { maxBytes });
    } else if (status >= 400 && status < 500 && error?.expose !== false) {
      const message = error?.type === 'entity.parse.failed' ? `The request body is not valid JSON: ${error.message}` : String(error?.message ?? 'Bad request');
      send(res, status === 415 ? 415 : 400, badRequestCode, message);
    } else {
      onUnexpected(error);
      send(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    }
  };
}

function tooLargeMessage(maxBytes: number, declared?: number): string {
  return `The request body is larger than the limit of ${maxBytes} bytes${declared === undefined ? '' : ` (Content-Length: ${declared})`}`;
}
