import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** What one subscription sent: its results (`next` messages or events), or the errors a transport sent instead. */
export interface Streamed<TData> {
  results: Array<FormattedExecutionResult<TData>>;
  /** graphql-ws `error` message (request errors: parse, validation), else undefined. */
  error?: unknown;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A graphql-ws client; `lazy: false` holds its connection open until disposed (lazy ones close when idle). */
export function wsClient(httpUrl: string, lazy = true): Client {
  return createClient({ url: wsUrl(httpUrl), webSocketImpl: WebSocket, retryAttempts: 0, lazy });
}

/** Runs one subscription over graphql-ws to its end. */
export async function overWebSocket<TData, TVariables>(client: Client, document: TypedDocumentNode<TData, TVariables> | string, variables: TVariables): Promise<Streamed<TData>> {
  const results: Array<FormattedExecutionResult<TData>> = [];
  try {
    for await (const result of client.iterate<TData>({ query: typeof document === 'string' ? document : print(document), variables: variables as Record<string, unknown> })) results.push(result as FormattedExecutionResult<TData>);
  } catch (error) {
    return { results, error };
  }
  return { results };
}

/**
 * Runs one subscription over graphql-sse as curl would: POST a JSON body with `accept: text/event-stream`, read the
 * event stream to its `complete` event, and parse the `next` events.
 */
export async function overSse<TData, TVariables>(httpUrl: string, document: TypedDocumentNode<TData, TVariables> | string, variables: TVariables, signal?: AbortSignal): Promise<Streamed<TData> & { status: number }> {
  const response = await fetch(`${httpUrl}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
    signal,
  });
  const text = await response.text();
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return { status: response.status, results: [], error: JSON.parse(text) };
  const results: Array<FormattedExecutionResult<TData>> = [];
  let completed = false;
  for (const block of text.split('\n\n')) {
    const event = /^event: (\w+)$/m.exec(block)?.[1];
    const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
    if (event === 'next') results.push(JSON.parse(data));
    if (event === 'complete') completed = true;
  }
  if (!completed) throw new Error(`the event stream ended without a complete event: ${text.slice(0, 500)}`);
  return { status: response.status, results };
}

/** Prometheus samples of /metrics, keyed `name{label="v",...}` (labels sorted). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  for (const line of (await (await fetch(`${url}/metrics`)).text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels = (match[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter((pair) => pair !== '').sort().join(',');
    samples.set(labels ? `${match[1]}{${labels}}` : match[1], Number(match[3]));
  }
  return samples;
}

/** Polls until `check` returns true; the elapsed milliseconds, or a failure after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}
