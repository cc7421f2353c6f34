import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
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
      discardBody(req, res, DRAIN_FACTOR * maxBytes);
      send(res, 413, ErrorCode.PAYLOAD_TOO_LARGE, tooLargeMessage(maxBytes, declared), { maxBytes });
      return;
    }
    next();
  };
}

/** A refused body is read and thrown away up to this many times the body limit; beyond that the connection is cut. */
export const DRAIN_FACTOR = 2;

/**
 * Reads and discards the body of a request that is answered without it (413, 429), so that its client, which is
 * still sending, can finish and read the answer. Closing the socket while the client writes makes the kernel reset
 * the connection, and the client gets EPIPE or ECONNRESET instead of the status (Node 24's fetch reliably does).
 * A body declared larger than `maxDrainBytes` is not worth reading: the connection is closed after the answer.
 * Undeclared (chunked) bodies are read until `maxDrainBytes`, then the socket is destroyed.
 */
export function discardBody(req: Request, res: Response, maxDrainBytes: number): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxDrainBytes) {
    res.setHeader('connection', 'close');
    req.resume();
    return;
  }
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxDrainBytes) req.socket.destroy();
  });
  req.resume();
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
