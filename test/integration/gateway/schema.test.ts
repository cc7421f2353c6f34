import 'reflect-metadata';
import { buildSchema, validate } from 'graphql';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printGatewaySchema } from '../../../src/graphql/build-schema.ts';
import * as documents from '../../generated/graphql.ts';

const COMMITTED = new URL('../../../schema.graphql', import.meta.url);

describe('schema.graphql', () => {
  it('is exactly what the type-graphql classes produce (no drift; fix with `npm run schema:emit`)', async () => {
    expect(await printGatewaySchema()).toBe(readFileSync(COMMITTED, 'utf8'));
  });

  it('accepts every example operation the typed documents were generated from (fix with `npm run codegen`)', () => {
    const schema = buildSchema(readFileSync(COMMITTED, 'utf8'));
    const typed = Object.entries(documents).filter(([name]) => name.endsWith('Document'));
    expect(typed.length).toBeGreaterThan(0);
    for (const [name, document] of typed) expect({ name, errors: validate(schema, document as any) }).toEqual({ name, errors: [] });
  });
});
