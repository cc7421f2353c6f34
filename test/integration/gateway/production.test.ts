import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelsDocument } from '../../generated/graphql.ts';
import { readJson, startTestServer, type TestServer } from './helpers.ts';

describe('NODE_ENV=production', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ env: { NODE_ENV: 'production' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('has no landing page on GET /graphql: a browser gets 406 (JSON only)', async () => {
    const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html', 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(406);
    expect(await readJson(response)).toEqual({
      errors: [
        {
          message: "An 'accept' header was provided for this request which does not accept application/json; charset=utf-8 or application/graphql-response+json; charset=utf-8",
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    });
  });

  it('refuses introspection (GRAPHQL_VALIDATION_FAILED), while normal queries work', async () => {
    const response = await t.postGraphQL({ query: getIntrospectionQuery() });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toEqual({
      message: expect.stringContaining('GraphQL introspection is not allowed'),
      locations: expect.any(Array),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', validationErrorCode: 'INTROSPECTION_DISABLED' },
    });
    expect((await t.gql(ModelsDocument)).body.data?.models.length).toBeGreaterThan(0);
  });
});
