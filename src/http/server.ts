import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { GatewayContext, GatewayServices } from '../graphql/context.ts';
import { createResolverContainer } from '../graphql/build-schema.ts';
import { buildServedSchema } from '../graphql/subgraph-schema.ts';
import { createFormatError } from '../graphql/format-error.ts';
import { observeOperations } from '../graphql/observe-plugin.ts';
import { createQueryLimitsRule } from '../graphql/query-limits.ts';
import { RequestRecord } from '../gateway/request-record.ts';
import { TokenBuckets, type RateLimiter } from '../gateway/token-bucket.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { bodyErrorHandler, DRAIN_FACTOR, limitContentLength } from './body-limit.ts';
import { corsMiddleware, createOriginPolicy } from './cors.ts';
import { ClientStreams } from '../gateway/client-streams.ts';
import { graphqlSse, sseAdmission } from './graphql-sse.ts';
import { attachGraphQLWs, createClientKey, type GraphQLWsServer } from './graphql-ws.ts';
import { createStreamOperations } from './stream-operations.ts';
import { sendGraphQLError, sendRestError } from './error-body.ts';
import { rateLimit } from './rate-limit.ts';
import { readiness, type ReadinessOptions } from './readiness.ts';
import { logSubscription, observeRequests, recordOf } from './request-log.ts';
import { abortOnClose, createRestHandler } from './rest.ts';
import { createWebPages } from './web-pages.ts';

export interface HttpServerOptions {
  /** Called with errors that are masked for the client (to log them). */
  onUnexpectedError: (error: unknown) => void;
  /** One line per request (see request-log.ts). */
  logger: Logger;
  metrics: GatewayMetrics;
  /** Shared rate-limit buckets (Redis); default: in process. */
  rateLimiter?: RateLimiter;
  /** Draining and Redis state for /readyz. */
  readiness?: ReadinessOptions;
}

export interface GatewayHttpServer {
  httpServer: Server;
  apollo: ApolloServer<GatewayContext>;
}

/** Headers that make a multipart request "preflighted" for Apollo's CSRF prevention. */
const PREFLIGHT_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name'];

/**
 * The HTTP surface: GET /healthz, POST /api/v1/inference/blip (REST, the seed API) and /graphql (Apollo Server with
 * GraphQL multipart uploads, CSRF prevention on, query limits, the Sandbox landing page outside production). The
 * returned server is not listening yet; stopping `apollo` drains it.
 */
export async function createGatewayHttpServer(services: GatewayServices, options: HttpServerOptions): Promise<GatewayHttpServer> {
  const { config } = services;
  const { limits } = config;
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY: req.ip (rate limits, logs) comes from X-Forwarded-For only through the proxies trusted here.
  app.set('trust proxy', config.fleet.trustProxy);
  const httpServer = createServer(app);
  const { metrics } = options;

  app.use(observeRequests(options.logger, (record, req) => metrics.observeRequest(record, req.originalUrl.startsWith('/api/') ? 'rest' : 'graphql')));
  app.use(securityHeaders(config.landingPage));
  app.use(closeWhenDraining(options.readiness?.draining));
  const origins = createOriginPolicy(config.cors);
  // Stream bounds key clients like the HTTP routes do (req.ip): through the proxies TRUST_PROXY trusts.
  const clientOf = createClientKey(app.get('trust proxy fn'));
  app.use(corsMiddleware(config.cors, origins));

  const schema = await buildServedSchema();
  const formatError = createFormatError({ production: config.production, onMaskedError: options.onUnexpectedError, redact: services.redact });
  let webSockets: GraphQLWsServer | undefined;
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: config.introspection,
    csrfPrevention: { requestHeaders: PREFLIGHT_HEADERS },
    parseOptions: { maxTokens: limits.queryTokens },
    includeStacktraceInErrorResponses: !config.production,
    // src/main.ts owns SIGTERM/SIGINT: drain, stop the workers, then exit.
    stopOnTerminationSignals: false,
    validationRules: [createQueryLimitsRule({ maxDepth: limits.queryDepth, maxFields: limits.queryFields })],
    formatError,
    plugins: [
      observeOperations(),
      // WebSockets are not HTTP requests the drain waits for: close them (1001) when the server stops.
      { serverWillStart: async () => ({ drainServer: async () => webSockets?.dispose() }) },
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      config.landingPage ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
      // The schema is a federation subgraph, for which Apollo would install inline (ftv1) tracing and say so on
      // stdout. Those traces feed GraphOS usage reporting, which this server does not set up: off.
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  await apollo.start();

  const container = createResolverContainer(services);
  const json = express.json({ limit: limits.bodyBytes });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readiness(services.registry, options.readiness));
  app.use(createWebPages({ dir: join(config.repoRoot, 'web', 'dist'), graphiql: config.introspection }));
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.render());
  });

  // One set of buckets for both routes: a client's budget is shared between REST and GraphQL.
  const { perMinute, burst } = config.rateLimit;
  const buckets = perMinute > 0 ? (options.rateLimiter ?? new TokenBuckets(perMinute, burst)) : undefined;
  app.post(
    '/api/v1/inference/blip',
    rateLimit(perMinute, burst, sendRestError, DRAIN_FACTOR * limits.bodyBytes, buckets),
    limitContentLength(limits.bodyBytes, sendRestError),
    json,
    createRestHandler(services.requests, options.onUnexpectedError, services.redact),
    bodyErrorHandler(limits.bodyBytes, sendRestError, 'BAD_USER_INPUT', options.onUnexpectedError),
  );

  // Subscriptions: graphql-sse at /graphql/stream (before /graphql, which would match it as a prefix) and graphql-ws
  // on WebSocket upgrades of /graphql, with the same schema, limits and error formatting as POST /graphql.
  const streams = new ClientStreams(config.streams);
  const operations = createStreamOperations({ schema, config, container, streams, formatError });
  app.use(
    '/graphql/stream',
    rateLimit(perMinute, burst, sendGraphQLError, DRAIN_FACTOR * limits.bodyBytes, buckets),
    sseAdmission(origins, streams, clientOf),
    limitContentLength(limits.bodyBytes, sendGraphQLError),
    json,
    graphqlSse(operations, clientOf),
    bodyErrorHandler(limits.bodyBytes, sendGraphQLError, 'BAD_REQUEST', options.onUnexpectedError),
  );
  webSockets = attachGraphQLWs({ httpServer, path: '/graphql', operations, origins, streams, maxPayloadBytes: limits.bodyBytes, buckets, clientOf, onCompleted: (record, client) => {
      logSubscription(options.logger, record, client);
      metrics.observeRequest(record, 'graphql');
    },
  });

  app.use(
    '/graphql',
    rateLimit(perMinute, burst, sendGraphQLError, DRAIN_FACTOR * limits.bodyBytes, buckets),
    limitContentLength(limits.bodyBytes, sendGraphQLError),
    multipartUploads({ maxFileSize: limits.image.maxBytes, maxFiles: limits.batchItems, maxFieldSize: limits.bodyBytes }),
    json,
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const adminKey = req.headers['x-admin-key'];
        return { container, signal: abortOnClose(res), record: recordOf(res) ?? new RequestRecord(''), adminKey: typeof adminKey === 'string' ? adminKey : undefined };
      },
    }),
    bodyErrorHandler(limits.bodyBytes, sendGraphQLError, 'BAD_REQUEST', options.onUnexpectedError),
  );

  return { httpServer, apollo };
}

/**
 * helmet's headers on every route. The Sandbox landing page (GET /graphql for a browser, outside production) loads
 * Apollo's scripts from their CDN and runs inline ones, so that page alone gets helmet without its Content Security
 * Policy and cross-origin embedder policy; everything else gets helmet's defaults.
 */
function securityHeaders(landingPage: boolean): RequestHandler {
  const strict = helmet();
  const relaxed = helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false });
  return function headers(req, res, next) {
    const sandbox = landingPage && req.method === 'GET' && req.path === '/graphql' && (req.headers.accept ?? '').includes('text/html');
    return (sandbox ? relaxed : strict)(req, res, next);
  };
}

/**
 * While draining, responses ask the client (or the load balancer) to close the connection, so that its next request
 * opens a new one, to a replica that is still ready, instead of racing the listener's close on a kept-alive one.
 */
function closeWhenDraining(draining: (() => boolean) | undefined): RequestHandler {
  return function drainingConnections(_req, res, next) {
    if (draining?.()) res.setHeader('connection', 'close');
    next();
  };
}

/**
 * graphql-upload's middleware, run only for preflighted multipart requests. A multipart request without a preflight
 * header is left unread: Apollo's CSRF prevention then refuses it (400 BAD_REQUEST) without the server parsing
 * or buffering its files.
 */
function multipartUploads(limits: { maxFileSize: number; maxFiles: number; maxFieldSize: number }): RequestHandler {
  const uploads = graphqlUploadExpress(limits);
  return function multipart(req, res, next) {
    if (!req.is('multipart/form-data')) return next();
    if (PREFLIGHT_HEADERS.some((header) => (req.headers[header]?.length ?? 0) > 0)) return uploads(req, res, next);
    req.body = undefined;
    return next();
  };
}
