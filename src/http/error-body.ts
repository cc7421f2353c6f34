import type { Response } from 'express';
import type { RequestRecord } from '../gateway/request-record.ts';

function noteCode(res: Response, code: string): void {
  (res.locals.record as RequestRecord | undefined)?.requestCodes.push(code);
}

/** Errors raised before GraphQL runs (body too large, malformed JSON), shaped like a GraphQL response. */
export function sendGraphQLError(res: Response, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  noteCode(res, code);
  res.status(status).json({ errors: [{ message, extensions: { code, ...extensions } }] });
}

/** The REST route's error shape, unchanged from the seed API. */
export function sendRestError(res: Response, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  noteCode(res, code);
  if (typeof extensions.retryAfterMs === 'number') {
    res.status(status).json({ error: { code, message, retryAfterMs: extensions.retryAfterMs } });
    return;
  }
  res.status(status).json({ error: { code, message } });
}

export type ErrorSender = (res: Response, status: number, code: string, message: string, extensions?: Record<string, unknown>) => void;
