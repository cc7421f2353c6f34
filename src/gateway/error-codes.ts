import { ErrorCode, ServiceError } from '../errors.ts';

/**
 * The HTTP status of each error code where one is needed (the REST route, and errors raised before GraphQL
 * execution). GraphQL results that carry errors from resolvers stay HTTP 200, as GraphQL over HTTP expects.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  BAD_USER_INPUT: 400,
  QUESTION_TOO_LONG: 400,
  QUERY_TOO_COMPLEX: 400,
  IMAGE_DECODE_FAILED: 422,
  UNSUPPORTED_IMAGE_FORMAT: 422,
  WRONG_TASK: 422,
  IMAGE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  MODEL_NOT_FOUND: 404,
  OVERLOADED: 429,
  MODEL_NOT_INSTALLED: 503,
  MODEL_LOAD_FAILED: 503,
  DEADLINE_EXCEEDED: 503,
  // nginx's "client closed request": nobody reads it, but logs and metrics see why the request ended.
  CANCELLED: 499,
  RATE_LIMITED: 429,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  MODEL_IN_USE: 409,
  MEMORY_BUDGET_EXCEEDED: 503,
  IMAGE_STORE_UNAVAILABLE: 503,
  TOO_MANY_CONNECTIONS: 429,
  TOO_MANY_SUBSCRIPTIONS: 429,
  INFERENCE_FAILED: 500,
  INVALID_CHECKPOINT: 500,
  INVALID_VARIANT: 500,
});

/**
 * Codes about the server's own files (a broken registry or checkpoint): their messages name paths on the server, so
 * a client gets INTERNAL_SERVER_ERROR instead (the server logs the real error).
 */
const SERVER_SIDE = new Set<ErrorCode>([ErrorCode.INVALID_CHECKPOINT, ErrorCode.INVALID_VARIANT]);

export function isClientFacing(code: ErrorCode): boolean {
  return !SERVER_SIDE.has(code);
}

/** The code a client sees for `error`: a client-facing ServiceError's own code, anything else INTERNAL_SERVER_ERROR. */
export function clientCodeOf(error: unknown): string {
  let current: unknown = error;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    if (current instanceof ServiceError) return isClientFacing(current.code) ? current.code : 'INTERNAL_SERVER_ERROR';
    current = (current as { originalError?: unknown }).originalError;
  }
  return 'INTERNAL_SERVER_ERROR';
}
