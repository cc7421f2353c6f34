import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RED_CIRCLE_BASE64 } from './example-image.ts';

/**
 * GraphiQL from the installed packages, bundled by Vite: its scripts, Monaco's workers and its fonts (inlined in its
 * CSS) all come from this server, so it works offline and under the server's Content Security Policy. Queries and
 * mutations go over HTTP to /graphql; subscriptions over graphql-ws to the same path (opened by the first one).
 */
const origin = new URL(window.location.href);
const wsUrl = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}/graphql`;
const fetcher = createGraphiQLFetcher({
  url: new URL('/graphql', origin).href,
  wsClient: createClient({ url: wsUrl, lazy: true, retryAttempts: 0 }),
});

const initialQuery = `# A caption, streamed as it is generated.
# The image is in Variables (base64 or an imageId).
subscription CaptionStream($input: CaptionInput!) {
  captionStream(input: $input) {
    text
    delta
    done
    result { caption model batchSize timings { totalMs } }
  }
}
`;

const initialVariables = JSON.stringify({ input: { image: { base64: RED_CIRCLE_BASE64 }, model: 'blip-demo' } }, null, 2);

/**
 * GraphiQL takes a default tab's query but not its variables (those come only from `initialVariables`, which would
 * also replace a returning user's variables): so the example variables are given on a first visit only.
 */
function firstVisit(): boolean {
  try {
    return window.localStorage.getItem('graphiql:tabState') === null;
  } catch {
    return true;
  }
}

const container = document.getElementById('graphiql');
if (!container) throw new Error('graphiql.html has no #graphiql');
createRoot(container).render(
  createElement(
    StrictMode,
    null,
    createElement(GraphiQL, {
      fetcher,
      defaultTabs: [{ query: initialQuery, variables: initialVariables }],
      ...(firstVisit() ? { initialVariables } : {}),
      defaultEditorToolsVisibility: 'variables',
      shouldPersistHeaders: false,
    }),
  ),
);
