import 'reflect-metadata';
import { composeServices } from '@apollo/composition';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { buildSchema, isObjectType, parse, printType, type GraphQLObjectType } from 'graphql';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printGatewaySchema } from '../../../src/graphql/build-schema.ts';
import { printSubgraphSdl } from '../../../src/graphql/subgraph-schema.ts';
import { readJson, startTestServer, type TestServer } from './helpers.ts';

const COMMITTED_SUBGRAPH = readFileSync(new URL('../../../subgraph.graphql', import.meta.url), 'utf8');
const COMMITTED_PUBLIC = readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8');

/** The committed file without its header comment: what `_service { sdl }` answers. */
function withoutHeader(file: string): string {
  return file.replace(/^#[^\n]*\n\n/, '');
}

/**
 * A second subgraph, as another team would run it: it owns whether a variant is featured in its catalog and a
 * tagline for it, keyed by the same `name` as blip-gateway's Model, and lists featured variants by name only.
 */
const CATALOG_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Model @key(fields: "name") {
    name: String!
    featured: Boolean!
    tagline: String
  }

  type Query {
    featuredModels: [Model!]!
  }
`;
const TAGLINES: Record<string, string> = { 'blip-demo': 'Coloured shapes, captioned', 'blip-tiny-vqa': 'Random weights, for parity' };

async function startCatalog(): Promise<{ url: string; stop: () => Promise<void> }> {
  const schema = buildSubgraphSchema([
    {
      typeDefs: parse(CATALOG_SDL),
      resolvers: {
        Query: { featuredModels: () => Object.keys(TAGLINES).map((name) => ({ name })) },
        Model: {
          __resolveReference: (reference: { name: string }) => ({ name: reference.name }),
          featured: (model: { name: string }) => model.name in TAGLINES,
          tagline: (model: { name: string }) => TAGLINES[model.name] ?? null,
        },
      } as never,
    },
  ]);
  const server = new ApolloServer({ schema, plugins: [ApolloServerPluginInlineTraceDisabled()] });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, stop: () => server.stop() };
}

async function post(url: string, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: await readJson(response) };
}

describe('subgraph.graphql', () => {
  it('is exactly the subgraph SDL the type-graphql classes produce (no drift; fix with `npm run schema:emit`)', async () => {
    expect(await printSubgraphSdl()).toBe(COMMITTED_SUBGRAPH);
  });

  it('declares Model an entity keyed by name and links Federation 2, while schema.graphql stays free of federation', () => {
    expect(COMMITTED_SUBGRAPH).toContain('extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])');
    expect(COMMITTED_SUBGRAPH).toMatch(/^type Model @key\(fields: "name"\) \{$/m);
    for (const federation of ['_service', '_entities', '_Any', '_Entity', '@key', '@link', 'federation__']) expect(COMMITTED_PUBLIC).not.toContain(federation);
  });

  it('serves every type and root field of the public schema (the subgraph only adds federation)', async () => {
    const publicSchema = buildSchema(await printGatewaySchema());
    const subgraph = buildSchema(withoutHeader(COMMITTED_SUBGRAPH), { assumeValidSDL: true });
    const roots = [publicSchema.getQueryType(), publicSchema.getMutationType(), publicSchema.getSubscriptionType()].filter((root) => root !== null && root !== undefined);
    const rootNames = new Set(roots.map((root) => root.name));
    for (const [name, type] of Object.entries(publicSchema.getTypeMap())) {
      if (name.startsWith('__') || rootNames.has(name)) continue;
      const served = subgraph.getType(name);
      expect(served && printType(served), name).toBe(printType(type));
    }
    for (const root of roots) {
      const served = subgraph.getType(root.name);
      expect(isObjectType(served), root.name).toBe(true);
      expect(Object.keys((served as GraphQLObjectType).getFields())).toEqual(expect.arrayContaining(Object.keys(root.getFields())));
    }
  });
});

describe('federation: /graphql is an Apollo Federation 2 subgraph', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers _service { sdl } with the committed subgraph.graphql', async () => {
    const { status, body } = await t.postGraphQL({ query: '{ _service { sdl } }' });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(`${body.data._service.sdl.trimEnd()}\n`).toBe(withoutHeader(COMMITTED_SUBGRAPH));
  });

  it('resolves Model entities by name (or alias) through the registry (null for an unknown name)', async () => {
    const { status, body } = await t.postGraphQL({
      query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Model { name task installed isDefault } } }',
      variables: {
        r: [
          { __typename: 'Model', name: 'blip-tiny-vqa' },
          { __typename: 'Model', name: 'no-such-variant' },
          { __typename: 'Model', name: 'blip-base' },
          { __typename: 'Model', name: 'blip-demo-caption' },
        ],
      },
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      data: {
        _entities: [
          { __typename: 'Model', name: 'blip-tiny-vqa', task: 'VQA', installed: true, isDefault: false },
          null,
          { __typename: 'Model', name: 'blip-base', task: 'CAPTION', installed: false, isDefault: false },
          // An alias finds its variant, as model(name:) does.
          { __typename: 'Model', name: 'blip-demo', task: 'CAPTION', installed: true, isDefault: true },
        ],
      },
    });
  });

  it('refuses representations that are not Model entities with BAD_USER_INPUT (not a masked server error)', async () => {
    const wrongType = await t.postGraphQL({ query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r: [{ __typename: 'Limits' }] } });
    expect(wrongType.body.data).toBeNull();
    expect(wrongType.body.errors).toHaveLength(1);
    expect(wrongType.body.errors[0]).toMatchObject({
      message: 'Expected an entity type (Model) for __typename in representations[0] but received "Limits"',
      path: ['_entities'],
      extensions: { code: 'BAD_USER_INPUT', field: 'representations' },
    });

    const noName = await t.postGraphQL({ query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r: [{ __typename: 'Model', name: 42 }] } });
    expect(noName.body.errors).toHaveLength(1);
    expect(noName.body.errors[0]).toMatchObject({
      message: 'Expected a string for name in a Model representation but received 42',
      extensions: { code: 'BAD_USER_INPUT', field: 'representations' },
    });
  });

  describe('composed into a supergraph with a second subgraph, served by @apollo/gateway', () => {
    let catalog: { url: string; stop: () => Promise<void> };
    let router: ApolloServer;
    let routerUrl: string;

    beforeAll(async () => {
      catalog = await startCatalog();
      // Composition reads each subgraph's SDL as a Router's tooling does: from `_service { sdl }`.
      const blipSdl = (await post(`${t.url}/graphql`, '{ _service { sdl } }')).body.data._service.sdl as string;
      const composed = composeServices([
        { name: 'blip', url: `${t.url}/graphql`, typeDefs: parse(blipSdl) },
        { name: 'catalog', url: catalog.url, typeDefs: parse(CATALOG_SDL) },
      ]);
      if (composed.errors) throw new Error(`composition failed: ${composed.errors.map((e) => e.message).join('\n')}`);
      // Static supergraph mode: the gateway takes both subgraph URLs from the supergraph SDL itself.
      router = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl }) });
      routerUrl = (await startStandaloneServer(router, { listen: { port: 0, host: '127.0.0.1' } })).url;
    });
    afterAll(async () => {
      await router?.stop();
      await catalog?.stop();
    });

    it('joins blip-gateway fields onto the catalog\'s models (blip resolves them through _entities)', async () => {
      const { status, body } = await post(routerUrl, '{ featuredModels { name tagline task installed batching { maxBatchSize } } }');
      expect(status).toBe(200);
      expect(body).toEqual({
        data: {
          featuredModels: [
            { name: 'blip-demo', tagline: 'Coloured shapes, captioned', task: 'CAPTION', installed: true, batching: { maxBatchSize: expect.any(Number) } },
            { name: 'blip-tiny-vqa', tagline: 'Random weights, for parity', task: 'VQA', installed: true, batching: { maxBatchSize: expect.any(Number) } },
          ],
        },
      });
    });

    it('joins catalog fields onto blip-gateway\'s models (the catalog resolves them through _entities)', async () => {
      const { status, body } = await post(routerUrl, '{ models { name featured tagline } model(name: "blip-demo") { name featured state } }');
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      const direct = (await post(`${t.url}/graphql`, '{ models { name } }')).body.data.models.map((m: { name: string }) => m.name);
      expect(body.data.models).toEqual(direct.map((name: string) => ({ name, featured: name in TAGLINES, tagline: TAGLINES[name] ?? null })));
      expect(body.data.model).toEqual({ name: 'blip-demo', featured: true, state: expect.stringMatching(/^(UNLOADED|LOADING|READY)$/) });
    });

    it('carries blip-gateway\'s error codes through the supergraph', async () => {
      const { body } = await post(routerUrl, 'mutation { caption(input: { image: { base64: "bm90IGFuIGltYWdl" }, model: "blip-tiny" }) { caption } }');
      expect(body.data).toBeNull();
      expect(body.errors?.[0]?.extensions?.code).toBe('UNSUPPORTED_IMAGE_FORMAT');
    });
  });
});

describe('federation in production (introspection off)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { NODE_ENV: 'production' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('still answers _service { sdl }, which composition needs; introspection stays refused', async () => {
    const service = await t.postGraphQL({ query: '{ _service { sdl } }' });
    expect(service.status).toBe(200);
    expect(`${service.body.data._service.sdl.trimEnd()}\n`).toBe(withoutHeader(COMMITTED_SUBGRAPH));
    const introspection = await t.postGraphQL({ query: '{ __schema { queryType { name } } }' });
    expect(introspection.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
