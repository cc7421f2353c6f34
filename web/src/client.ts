import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';

/**
 * The page's GraphQL client, as a frontend would set one up: urql over HTTP for queries and mutations (multipart for
 * file uploads, which urql builds itself when a variable holds a File), and graphql-ws for subscriptions.
 *
 * - POST only: Apollo's CSRF prevention refuses a GET without a preflight header, and urql may send queries as GET.
 * - The WebSocket is lazy (opened by the first subscription) and closed when the last one ends, so the page holds no
 *   long-lived connection until the user starts a caption or a question, and none after it.
 */
export function createPlaygroundClient(origin: URL = new URL(window.location.href)): Client {
  const wsUrl = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}/graphql`;
  const ws = createWsClient({ url: wsUrl, lazy: true, lazyCloseTimeout: 0, retryAttempts: 0 });
  return new Client({
    url: new URL('/graphql', origin).href,
    preferGetMethod: false,
    requestPolicy: 'network-only',
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}

/** Headers for a multipart request: Apollo's CSRF prevention parses files only from a request that carries one. */
export const MULTIPART_HEADERS = { 'apollo-require-preflight': 'true' } as const;
