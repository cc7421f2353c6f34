/**
 * One error model for the whole service. Domain code throws `ServiceError` with a stable code; the GraphQL layer maps
 * the code to `extensions.code`. Anything that is not a `ServiceError` is masked as INTERNAL_SERVER_ERROR there.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  IMAGE_DECODE_FAILED: 'IMAGE_DECODE_FAILED',
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  UNSUPPORTED_IMAGE_FORMAT: 'UNSUPPORTED_IMAGE_FORMAT',
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  MODEL_NOT_INSTALLED: 'MODEL_NOT_INSTALLED',
  WRONG_TASK: 'WRONG_TASK',
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  QUESTION_TOO_LONG: 'QUESTION_TOO_LONG',
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  OVERLOADED: 'OVERLOADED',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** The client went away (disconnected or aborted); its request stopped consuming model time. */
  CANCELLED: 'CANCELLED',
  /** The request body is larger than the server accepts (HTTP 413). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A GraphQL operation is deeper or selects more fields than the server accepts. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** A Hugging Face checkpoint folder (config, weights, tokenizer files) is missing, malformed or unsupported. */
  INVALID_CHECKPOINT: 'INVALID_CHECKPOINT',
  /** A converted variant folder (manifest.json and the files it lists) is missing or malformed. */
  INVALID_VARIANT: 'INVALID_VARIANT',
  /** A client sent more requests than its rate limit allows; `retryAfterMs` says when to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** An admin operation without a valid `x-admin-key` header. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** An admin operation on a server where admin operations are disabled (no ADMIN_API_KEY configured). */
  FORBIDDEN: 'FORBIDDEN',
  /** A variant cannot be unloaded or evicted now: requests are running on it, or it is pinned. */
  MODEL_IN_USE: 'MODEL_IN_USE',
  /** Loading a variant would exceed the memory budget and nothing can be evicted to make room. */
  MEMORY_BUDGET_EXCEEDED: 'MEMORY_BUDGET_EXCEEDED',
  /** The shared image store (Redis) cannot be reached: the imageId is not wrong, retry after `retryAfterMs`. */
  IMAGE_STORE_UNAVAILABLE: 'IMAGE_STORE_UNAVAILABLE',
  /** A client already holds as many streaming connections (WebSocket or SSE) as the server allows one client. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** A client already runs as many subscriptions as the server allows one client. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ServiceErrorOptions {
  cause?: unknown;
  /** Machine-readable details that are safe to show to a client (never stack traces or file contents). */
  details?: Record<string, unknown>;
}

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.code = code;
    this.details = options.details;
  }
}

/** A checkpoint problem, always naming the file and what was expected there. */
export function checkpointError(file: string, message: string, cause?: unknown): ServiceError {
  return new ServiceError(ErrorCode.INVALID_CHECKPOINT, `${file}: ${message}`, { cause, details: { file } });
}

/** Thrown by `switch` statements over closed unions when a case was forgotten. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}
