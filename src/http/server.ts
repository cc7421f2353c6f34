import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import { createServer, type Server } from 'node:http';
import type { GatewayContext, GatewayServices } from '../graphql/context.ts';
import { buildGatewaySchema, createResolverContainer } from '../graphql/build-schema.ts';
import { createFormatError } from '../graphql/format-error.ts';
import { createQueryLimitsRule } from '../graphql/query-limits.ts';
import { bodyErrorHandler, limitContentLength } from './body-limit.ts';
import { sendGraphQLError, sendRestError } from './error-body.ts';
import { abortOnClose, createRestHandler } from './rest.ts';

export interface HttpServerOptions {
  /** Called with errors that are masked for the client (to log them). */
  onUnexpectedError: (error: unknown) => void;
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
  const httpServer = createServer(app);

  const apollo = new ApolloServer<GatewayContext>({
    schema: await buildGatewaySchema(),
    introspection: config.introspection,
    csrfPrevention: { requestHeaders: PREFLIGHT_HEADERS },
    includeStacktraceInErrorResponses: !config.production,
    // src/main.ts owns SIGTERM/SIGINT: drain, stop the workers, then exit.
    stopOnTerminationSignals: false,
    validationRules: [createQueryLimitsRule({ maxDepth: limits.queryDepth, maxFields: limits.queryFields })],
    formatError: createFormatError({ production: config.production, onMaskedError: options.onUnexpectedError, redact: services.redact }),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      config.landingPage ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const container = createResolverContainer(services);
  const json = express.json({ limit: limits.bodyBytes });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post(
    '/api/v1/inference/blip',
    limitContentLength(limits.bodyBytes, sendRestError),
    json,
    createRestHandler(services.requests, options.onUnexpectedError, services.redact),
    bodyErrorHandler(limits.bodyBytes, sendRestError, 'BAD_USER_INPUT', options.onUnexpectedError),
  );

  app.use(
    '/graphql',
    limitContentLength(limits.bodyBytes, sendGraphQLError),
    multipartUploads({ maxFileSize: limits.image.maxBytes, maxFiles: limits.batchItems, maxFieldSize: limits.bodyBytes }),
    json,
    expressMiddleware(apollo, {
      context: async ({ res }) => ({ container, signal: abortOnClose(res) }),
    }),
    bodyErrorHandler(limits.bodyBytes, sendGraphQLError, 'BAD_REQUEST', options.onUnexpectedError),
  );

  return { httpServer, apollo };
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
