import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import type { ContainerType } from 'type-graphql';
import type { Config } from '../config/config.ts';
import { ClientStreams } from '../gateway/client-streams.ts';
import { RequestRecord } from '../gateway/request-record.ts';
import type { GatewayContext } from '../graphql/context.ts';
import { findServiceError } from '../graphql/format-error.ts';
import { createQueryLimitsRule } from '../graphql/query-limits.ts';

/** A GraphQL request as the streaming transports receive it (JSON fields, unchecked). */
export interface StreamRequest {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
}

/**
 * What graphql-ws and graphql-sse share, so that both serve the schema with the limits and error codes of
 * POST /graphql: the parse token limit, the query depth/field rule, introspection when it is on, and every error
 * through the same `formatError` as Apollo's.
 */
export interface StreamOperations {
  /** Parses and validates a subscription: its execution arguments, or the request's errors (with their codes). */
  prepare(request: StreamRequest, contextValue: GatewayContext): ExecutionArgs | GraphQLError[];
  /** The context of one operation: this server's resolvers, the client's subscription bound, the client-gone signal. */
  context(client: string, signal: AbortSignal, record?: RequestRecord): GatewayContext;
  formatResult(result: ExecutionResult): FormattedExecutionResult;
  formatErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[];
}

export interface StreamOperationsOptions {
  schema: GraphQLSchema;
  config: Config;
  container: ContainerType;
  streams: ClientStreams;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

export function createStreamOperations(options: StreamOperationsOptions): StreamOperations {
  const { schema, config, container, streams, formatError } = options;
  const { limits } = config;
  const rules: ValidationRule[] = [
    ...specifiedRules,
    createQueryLimitsRule({ maxDepth: limits.queryDepth, maxFields: limits.queryFields }),
    ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  let nextId = 0;

  const formatErrors = (errors: readonly GraphQLError[]) => errors.map((error) => {
    const coded = withCode(error, requestErrorCode(error));
    return formatError(coded.toJSON(), coded);
  });

  return {
    prepare(request, contextValue) {
      if (typeof request.query !== 'string') return [codedError('Expected a GraphQL operation as a string for query', 'BAD_REQUEST')];
      let document: DocumentNode;
      try {
        document = parse(request.query, { maxTokens: limits.queryTokens });
      } catch (error) {
        return [withCode(error instanceof GraphQLError ? error : new GraphQLError(String(error)), 'GRAPHQL_PARSE_FAILED')];
      }
      const invalid = validate(schema, document, rules);
      if (invalid.length > 0) return invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
      const operationName = typeof request.operationName === 'string' ? request.operationName : undefined;
      const operation = getOperationAST(document, operationName);
      if (!operation) return [codedError('Could not tell which operation to run: name it with operationName', 'BAD_REQUEST')];
      // The name as resolved from the document (as Apollo reports it for HTTP requests), for the log line and traces.
      if (operation.name) contextValue.record.graphqlOperationName = operation.name.value.slice(0, 100);
      if (operation.operation !== 'subscription') {
        return [codedError(`Only subscriptions are served over this transport; send ${operation.operation === 'query' ? 'queries' : 'mutations'} to POST /graphql`, 'BAD_REQUEST')];
      }
      // Variables are checked here too, so that a wrong one is a request error on both transports (BAD_USER_INPUT).
      const variableValues = isObject(request.variables) ? request.variables : {};
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variableValues, { maxErrors: 10 });
      if (coerced.errors) return coerced.errors.map((error) => withCode(error, 'BAD_USER_INPUT'));
      return { schema, document, operationName, variableValues, contextValue };
    },
    context(client, signal, record) {
      return {
        container,
        signal,
        record: record ?? new RequestRecord(`stream-${++nextId}`),
        adminKey: undefined,
        startSubscription: () => streams.startSubscription(client),
      };
    },
    formatResult(result) {
      return result.errors ? { ...result, errors: formatErrors(result.errors) } : (result as FormattedExecutionResult);
    },
    formatErrors,
  };
}

// Private.

/**
 * The code of an error raised before a resolver ran, as Apollo gives it on POST /graphql: graphql-js reports
 * variables that do not fit their types as errors without a path or an original error (BAD_USER_INPUT).
 * Errors with a code, a ServiceError or a path keep what they have.
 */
function requestErrorCode(error: GraphQLError): string | undefined {
  if (typeof error.extensions?.code === 'string' || findServiceError(error) || error.path !== undefined || error.originalError) return undefined;
  return 'BAD_USER_INPUT';
}

function withCode(error: GraphQLError, code: string | undefined): GraphQLError {
  if (code === undefined || typeof error.extensions?.code === 'string' || findServiceError(error)) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

function codedError(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
