import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType } from 'type-graphql';
import type { GatewayServices } from './context.ts';
import { containerOf } from './context.ts';
import { AdminResolver } from './admin.resolver.ts';
import { InferenceResolver } from './inference.resolver.ts';
import { LimitsResolver } from './limits.resolver.ts';
import { ModelResolver } from './model.resolver.ts';
import { StreamResolver } from './stream.resolver.ts';
import { UploadResolver } from './upload.resolver.ts';

const RESOLVERS = [ModelResolver, LimitsResolver, UploadResolver, InferenceResolver, AdminResolver, StreamResolver] as const;

/**
 * type-graphql wants a PubSub once a resolver has subscriptions; ours bring their own `subscribe` functions and
 * publish nothing, so topic subscriptions are refused.
 */
const NO_TOPICS = {
  publish: () => undefined,
  subscribe: (): AsyncIterable<never> => {
    throw new Error('Topic subscriptions are not used: every subscription has its own subscribe function');
  },
};

let schema: Promise<GraphQLSchema> | undefined;

/**
 * The schema, built once per process from the type-graphql classes. It holds no services: each request's context
 * carries the container that hands out its server's resolver instances (see `createResolverContainer`).
 */
export function buildGatewaySchema(): Promise<GraphQLSchema> {
  schema ??= buildSchema({ resolvers: [...RESOLVERS], container: containerOf, validate: false, pubSub: NO_TOPICS });
  return schema;
}

/** The SDL committed as schema.graphql: sorted, with a header saying where it comes from. */
export async function printGatewaySchema(): Promise<string> {
  const header = '# Generated from the type-graphql classes in src/graphql by `npm run schema:emit`. Do not edit.\n\n';
  return `${header}${printSchema(lexicographicSortSchema(await buildGatewaySchema()))}\n`;
}

/** The resolver instances of one server. */
export function createResolverContainer(services: GatewayServices): ContainerType {
  const instances = new Map<unknown, object>([
    [ModelResolver, new ModelResolver(services.registry, services.redact, services.installs)],
    [LimitsResolver, new LimitsResolver(services.config)],
    [UploadResolver, new UploadResolver(services.images, services.loadImage)],
    [InferenceResolver, new InferenceResolver(services.requests, services.config.limits.batchItems)],
    [AdminResolver, new AdminResolver(services.registry, services.config.adminApiKey, services.redact, services.installs)],
    [StreamResolver, new StreamResolver(services.requests)],
  ]);
  return {
    get(someClass: unknown) {
      const instance = instances.get(someClass);
      if (!instance) throw new Error(`No resolver instance for ${String((someClass as { name?: string }).name)}`);
      return instance;
    },
  };
}
