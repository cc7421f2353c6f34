import type { CombinedError } from '@urql/core';
import { element } from './dom.ts';

export interface ShownError {
  code: string;
  message: string;
}

/**
 * The errors of a result as the user should see them: each GraphQL error with its `extensions.code` (the stable part a
 * frontend branches on), or the network failure.
 */
export function errorsOf(error: CombinedError): ShownError[] {
  if (error.graphQLErrors.length > 0) {
    return error.graphQLErrors.map((graphQLError) => ({
      code: typeof graphQLError.extensions?.code === 'string' ? graphQLError.extensions.code : 'UNKNOWN',
      message: graphQLError.message,
    }));
  }
  return [{ code: 'NETWORK_ERROR', message: networkMessage(error.networkError) }];
}

/**
 * graphql-ws reports a failed or closed WebSocket with the browser's CloseEvent or Event, not an Error; urql passes it
 * on as the network error, whose message is then undefined.
 */
function networkMessage(cause: unknown): string {
  if (cause instanceof Error && cause.message) return cause.message;
  if (typeof CloseEvent !== 'undefined' && cause instanceof CloseEvent) {
    return `The WebSocket to the server closed (code ${cause.code}${cause.reason ? `: ${cause.reason}` : ''}).`;
  }
  if (typeof Event !== 'undefined' && cause instanceof Event) return 'The WebSocket connection to the server failed.';
  return 'The request did not reach the server.';
}

/** Replaces the content of `target` with one line per error (`CODE message`); empty when there are none. */
export function showErrors(target: HTMLElement, errors: ShownError[]): void {
  target.replaceChildren(
    ...errors.map((shown) => {
      const line = element('p', undefined, { class: 'error' });
      line.append(element('code', shown.code, { class: 'error-code' }), ` ${shown.message}`);
      return line;
    }),
  );
  target.hidden = errors.length === 0;
}
