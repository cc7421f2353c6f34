import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLError } from 'graphql';
import { clientCodeOf } from '../gateway/error-codes.ts';
import type { GatewayContext } from './context.ts';
import { findServiceError } from './format-error.ts';

/**
 * Tells the request's record the GraphQL operation's name (as resolved from the document) and the codes of errors raised outside any field (parse,
 * validation, query limits, bad variables); field errors are recorded by the resolvers themselves.
 */
export function observeOperations(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didResolveOperation({ operationName }) {
          if (typeof operationName === 'string') contextValue.record.graphqlOperationName = operationName.slice(0, 100);
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (error.path === undefined) contextValue.record.requestCodes.push(requestCodeOf(error));
          }
        },
      };
    },
  };
}

function requestCodeOf(error: GraphQLError): string {
  if (findServiceError(error)) return clientCodeOf(error);
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}
