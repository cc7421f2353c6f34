import type { Response } from 'express';

/** Errors raised before GraphQL runs (body too large, malformed JSON), shaped like a GraphQL response. */
export function sendGraphQLError(res: Response, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  res.status(status).json({ errors: [{ message, extensions: { code, ...extensions } }] });
}

/** The REST route's error shape, unchanged from the seed API. */
export function sendRestError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

export type ErrorSender = (res: Response, status: number, code: string, message: string, extensions?: Record<string, unknown>) => void;
