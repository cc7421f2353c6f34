import type { GraphQLFormattedError } from 'graphql';
import { ServiceError } from '../errors.ts';
import { isClientFacing } from '../gateway/error-codes.ts';
import { clientMessage } from '../gateway/redact.ts';

export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';
export const INTERNAL_MESSAGE = 'Internal server error';

/** Detail keys that describe the server rather than the request (file-system paths): never sent to clients. */
const PRIVATE_DETAILS = new Set(['file', 'variantFile', 'path', 'directory', 'cause', 'stack']);

export interface FormatErrorOptions {
  /** Production: no stack traces in responses. */
  production: boolean;
  /** Called with every error that gets masked (to log it). */
  onMaskedError?: (error: unknown) => void;
  /** Removes server folders from messages (see src/gateway/redact.ts). */
  redact?: (message: string) => string;
}

/**
 * Apollo's `formatError`. One rule per kind of error:
 * - a ServiceError anywhere in the `originalError` chain (thrown by a resolver or carried by a validation rule):
 *   its message, `extensions.code` = its code, plus its client-safe `details` as further extensions;
 * - an error Apollo or graphql-js already gave a code to (parse and validation failures, bad variables, CSRF): kept,
 *   their messages are written for clients;
 * - anything else, and ServiceErrors about the server's own files (INVALID_VARIANT, INVALID_CHECKPOINT), is masked as INTERNAL_SERVER_ERROR with a generic message (the stack only outside production).
 */
export function createFormatError(options: FormatErrorOptions): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return function formatError(formatted, error) {
    const service = findServiceError(error);
    if (service && isClientFacing(service.code)) {
      return located(formatted, clientMessage(service, options.redact), { code: service.code, ...clientDetails(service.details) });
    }
    const { stacktrace, ...extensions } = formatted.extensions ?? {};
    if (!service && typeof extensions.code === 'string' && extensions.code !== INTERNAL_SERVER_ERROR) {
      return located(formatted, formatted.message, extensions);
    }
    options.onMaskedError?.(error);
    const original = originalOf(error);
    const stack = options.production ? undefined : (original instanceof Error ? original.stack?.split('\n') : undefined) ?? stacktrace;
    return located(formatted, INTERNAL_MESSAGE, stack === undefined ? { code: INTERNAL_SERVER_ERROR } : { code: INTERNAL_SERVER_ERROR, stacktrace: stack });
  };
}

/** The ServiceError behind `error`, following GraphQLError.originalError links. */
export function findServiceError(error: unknown): ServiceError | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    if (current instanceof ServiceError) return current;
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/** Details a client may see: everything but server paths and internals. */
export function clientDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!details) return {};
  return Object.fromEntries(Object.entries(details).filter(([key]) => key !== 'code' && !PRIVATE_DETAILS.has(key)));
}

// Private: the innermost original error (what a resolver threw).
function originalOf(error: unknown): unknown {
  let current: unknown = error;
  for (let i = 0; i < 5; i++) {
    const next = (current as { originalError?: unknown } | null)?.originalError;
    if (!(next instanceof Error)) return current;
    current = next;
  }
  return current;
}

function located(formatted: GraphQLFormattedError, message: string, extensions: Record<string, unknown>): GraphQLFormattedError {
  return {
    message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions,
  };
}
