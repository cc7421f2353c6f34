import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ServiceError } from '../../../src/errors.ts';
import { createFormatError } from '../../../src/graphql/format-error.ts';

/** What Apollo hands formatError: the formatted error (with its default code) and the error itself. */
function format(error: GraphQLError, production = false, masked: unknown[] = []) {
  const formatted: GraphQLFormattedError = {
    ...error.toJSON(),
    extensions: { ...error.extensions, code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR', stacktrace: ['GraphQLError: ...'] },
  };
  return createFormatError({ production, onMaskedError: (e) => masked.push(e) })(formatted, error);
}

const resolverError = (thrown: Error) => new GraphQLError(thrown.message, { path: ['caption'], originalError: thrown });

describe('formatError', () => {
  it('maps a ServiceError to its code and its client-safe details', () => {
    const error = new ServiceError(ErrorCode.MODEL_NOT_FOUND, 'Unknown model "x". Closest: a, b', {
      details: { model: 'x', suggestions: ['a', 'b'], file: '/srv/registry/x', code: 'spoofed' },
    });
    expect(format(resolverError(error))).toEqual({
      message: 'Unknown model "x". Closest: a, b',
      path: ['caption'],
      extensions: { code: 'MODEL_NOT_FOUND', model: 'x', suggestions: ['a', 'b'] },
    });
  });

  it.each([ErrorCode.OVERLOADED, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.INFERENCE_FAILED, ErrorCode.MODEL_NOT_INSTALLED, ErrorCode.QUESTION_TOO_LONG])(
    'passes the engine code %s through',
    (code) => {
      expect(format(resolverError(new ServiceError(code, 'because')))).toEqual({ message: 'because', path: ['caption'], extensions: { code } });
    },
  );

  it('finds a ServiceError carried by a validation error (query limits)', () => {
    const limit = new GraphQLError('too deep', { originalError: new ServiceError(ErrorCode.QUERY_TOO_COMPLEX, 'too deep', { details: { maxDepth: 2 } }) });
    // Apollo wraps validation errors once more and overrides the code.
    const wrapped = new GraphQLError(limit.message, { originalError: limit, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(format(wrapped)).toEqual({ message: 'too deep', extensions: { code: 'QUERY_TOO_COMPLEX', maxDepth: 2 } });
  });

  it("keeps Apollo's coded errors as they are, without stack traces", () => {
    const error = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(format(error)).toEqual({ message: 'Cannot query field "nope" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('masks anything unexpected as INTERNAL_SERVER_ERROR, with the stack only outside production', () => {
    const masked: unknown[] = [];
    const thrown = new TypeError("Cannot read properties of undefined (reading 'x')");
    expect(format(resolverError(thrown), false, masked)).toEqual({
      message: 'Internal server error',
      path: ['caption'],
      extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: thrown.stack?.split('\n') },
    });
    expect(format(resolverError(thrown), true, masked)).toEqual({ message: 'Internal server error', path: ['caption'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(masked).toHaveLength(2);
  });

  it("masks ServiceErrors about the server's own files (their messages name server paths)", () => {
    const error = new ServiceError(ErrorCode.INVALID_VARIANT, '/srv/registry/x/manifest.json: not valid JSON');
    expect(format(resolverError(error), true)).toEqual({ message: 'Internal server error', path: ['caption'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });
});

describe('formatError with a path redactor', () => {
  it('removes server folders from ServiceError messages', async () => {
    const { createPathRedactor } = await import('../../../src/gateway/redact.ts');
    const redact = createPathRedactor(['/srv/app', '/srv/app/registry/']);
    const error = new ServiceError(ErrorCode.MODEL_LOAD_FAILED, 'cannot load /srv/app/registry/blip-base/vision_model.onnx: bad; see /srv/app/README.md');
    const formatted = createFormatError({ production: true, redact })({ message: error.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, resolverError(error));
    expect(formatted).toEqual({ message: 'cannot load blip-base/vision_model.onnx: bad; see README.md', extensions: { code: 'MODEL_LOAD_FAILED' } });
  });
});
