import 'reflect-metadata';
import { execute, parse, subscribe, type ExecutionResult } from 'graphql';
import { buildSchema, Directive, Field, ID, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import { describe, expect, it } from 'vitest';
import { toSubgraphSchema } from '../../../src/graphql/subgraph-schema.ts';

// A schema of its own, with every root type (the gateway's schema has no Subscription yet), built as src/graphql does.
@Directive('@key(fields: "id")')
@ObjectType('Thing')
class Thing {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  label!: string;
}

const THINGS: Thing[] = [
  { id: '1', label: 'one' },
  { id: '2', label: 'two' },
];

@Resolver()
class ThingResolver {
  @Query(() => [Thing])
  things(): Thing[] {
    return THINGS;
  }

  @Subscription(() => Thing, {
    subscribe: async function* () {
      for (const thing of THINGS) yield thing;
    },
  })
  thingChanged(@Root() thing: Thing): Thing {
    return { ...thing, label: thing.label.toUpperCase() };
  }
}

async function subgraph() {
  // type-graphql wants a pubSub for any subscription, even one with its own `subscribe`; this one is never used.
  const pubSub = {
    publish: () => undefined,
    subscribe: () => {
      throw new Error('the test subscription has its own subscribe function');
    },
  };
  const schema = await buildSchema({ resolvers: [ThingResolver], validate: false, pubSub });
  return toSubgraphSchema(schema, { Thing: (reference) => THINGS.find((thing) => thing.id === reference.id) ?? null });
}

describe('toSubgraphSchema', () => {
  it('keeps every root type type-graphql built, with their resolvers, subscriptions included', async () => {
    const schema = await subgraph();
    expect(await execute({ schema, document: parse('{ things { id label } }') })).toEqual({ data: { things: THINGS } });

    const events = (await subscribe({ schema, document: parse('subscription { thingChanged { id label } }') })) as AsyncIterableIterator<ExecutionResult>;
    expect(Symbol.asyncIterator in events).toBe(true);
    const received: unknown[] = [];
    for await (const event of events) received.push(event);
    expect(received).toEqual([{ data: { thingChanged: { id: '1', label: 'ONE' } } }, { data: { thingChanged: { id: '2', label: 'TWO' } } }]);
  });

  it('publishes the directives the classes declare and the federation fields', async () => {
    const schema = await subgraph();
    const result = (await execute({ schema, document: parse('{ _service { sdl } }') })) as ExecutionResult<{ _service: { sdl: string } }>;
    const sdl = result.data!._service.sdl;
    expect(sdl).toContain('extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])');
    expect(sdl).toMatch(/^type Thing @key\(fields: "id"\) \{$/m);
    expect(sdl).toMatch(/^type Subscription \{\n {2}thingChanged: Thing!\n\}$/m);
    expect(sdl).toContain('union _Entity = Thing');
  });

  it('resolves entities through the reference resolvers, and refuses representations of other types with BAD_USER_INPUT', async () => {
    const schema = await subgraph();
    const document = parse('query($r: [_Any!]!) { _entities(representations: $r) { ... on Thing { id label } } }');
    expect(await execute({ schema, document, variableValues: { r: [{ __typename: 'Thing', id: '2' }, { __typename: 'Thing', id: '9' }] } })).toEqual({
      data: { _entities: [{ id: '2', label: 'two' }, null] },
    });
    const refused = await execute({ schema, document, variableValues: { r: ['Thing'] } });
    expect(refused.errors?.map((error) => [error.message, (error.originalError as { code?: string } | undefined)?.code])).toEqual([
      ['Expected an entity type (Thing) for __typename in representations[0] but received nothing', 'BAD_USER_INPUT'],
    ]);
  });
});
