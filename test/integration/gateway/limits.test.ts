import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionBatchDocument, LimitsDocument } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from './helpers.ts';

describe('operation limits: depth, fields and aliases, batch length (tight configuration)', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ env: { MAX_QUERY_DEPTH: '2', MAX_QUERY_FIELDS: '12', MAX_BATCH_ITEMS: '2', MAX_QUESTION_CHARS: '40', IMAGE_STORE_TTL_SECONDS: '60' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports the configured limits', async () => {
    expect((await t.gql(LimitsDocument)).body).toEqual({
      data: {
        limits: {
          maxBodyBytes: 32 * 1024 * 1024,
          maxImageBytes: 20 * 1024 * 1024,
          maxImagePixels: 50_000_000,
          maxQuestionChars: 40,
          maxPromptChars: 500,
          maxBatchItems: 2,
          maxQueryDepth: 2,
          maxQueryFields: 12,
          imageTtlSeconds: 60,
          imageUrlEnabled: false,
        },
      },
    });
  });

  it('refuses an operation nested deeper than the limit (QUERY_TOO_COMPLEX, HTTP 400)', async () => {
    const response = await t.postGraphQL({ query: 'query Deep {\n  models {\n    batching {\n      maxBatchSize\n    }\n  }\n}' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      errors: [
        {
          message: 'The operation is nested deeper than the limit of 2 levels',
          locations: [{ line: 1, column: 1 }],
          extensions: { code: 'QUERY_TOO_COMPLEX', maxDepth: 2 },
        },
      ],
    });
  });

  it('counts every alias and every fragment use toward the field limit', async () => {
    const aliases = Array.from({ length: 7 }, (_, i) => `a${i}: limits { maxBodyBytes }`).join(' ');
    const viaFragments = 'query F { ...L ...L ...L ...L ...L ...L ...L } fragment L on Query { limits { maxBatchItems } }';
    for (const query of [`query Many { ${aliases} }`, viaFragments]) {
      const response = await t.postGraphQL({ query });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        errors: [
          {
            message: 'The operation selects more than the limit of 12 fields (aliases and fragment uses count each time)',
            locations: [{ line: 1, column: 1 }],
            extensions: { code: 'QUERY_TOO_COMPLEX', maxFields: 12 },
          },
        ],
      });
    }
    // Six aliases (12 fields) are fine.
    const six = await t.postGraphQL({ query: `{ ${Array.from({ length: 6 }, (_, i) => `a${i}: limits { maxBodyBytes }`).join(' ')} }` });
    expect(six.body.errors).toBeUndefined();
  });

  it('does not count introspection (tools send deep introspection queries)', async () => {
    const response = await t.postGraphQL({ query: getIntrospectionQuery() });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
  });

  it('refuses a batch longer than the limit before running any item', async () => {
    const input = { image: { base64: base64Image('gray_33x33.png') } };
    expect((await t.gql(CaptionBatchDocument, { inputs: [input, input, input] })).body).toEqual({
      data: null,
      errors: [
        {
          message: 'Expected at most 2 items for inputs but received 3',
          locations: [{ line: 2, column: 3 }],
          path: ['captionBatch'],
          extensions: { code: 'BAD_USER_INPUT', field: 'inputs', items: 3, maxItems: 2 },
        },
      ],
    });
    expect(t.events.filter((e) => e.type === 'load-started')).toEqual([]);
    // Two different images (identical requests would share one computation).
    const ok = await t.gql(CaptionBatchDocument, { inputs: [input, { image: { base64: base64Image('solid_20x20.jpg') } }] });
    expect({ errors: ok.body.errors, sizes: ok.body.data?.captionBatch.map((item) => item?.batchSize) }).toEqual({ errors: undefined, sizes: [2, 2] });
  });
});
