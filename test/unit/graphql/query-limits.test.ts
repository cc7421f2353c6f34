import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { findServiceError } from '../../../src/graphql/format-error.ts';
import { createQueryLimitsRule } from '../../../src/graphql/query-limits.ts';

const schema = buildSchema(`
  type Node { name: String, child: Node }
  type Query { root: Node, leaf: String }
`);

function check(query: string, maxDepth: number, maxFields: number) {
  return validate(schema, parse(query), [...specifiedRules, createQueryLimitsRule({ maxDepth, maxFields })]).map((error) => ({
    message: error.message,
    code: findServiceError(error)?.code ?? null,
  }));
}

describe('createQueryLimitsRule', () => {
  it('measures depth from the root fields (root { child { name } } is 3)', () => {
    expect(check('{ root { child { name } } }', 3, 100)).toEqual([]);
    expect(check('{ root { child { name } } }', 2, 100)).toEqual([{ message: 'The operation is nested deeper than the limit of 2 levels', code: 'QUERY_TOO_COMPLEX' }]);
  });

  it('counts depth through fragments and inline fragments', () => {
    const query = 'query { root { ...A } } fragment A on Node { child { ... on Node { child { name } } } }';
    expect(check(query, 4, 100)).toEqual([]);
    expect(check(query, 3, 100)).toHaveLength(1);
  });

  it('counts every alias and every fragment spread', () => {
    expect(check('{ a: leaf b: leaf c: leaf }', 10, 3)).toEqual([]);
    expect(check('{ a: leaf b: leaf c: leaf d: leaf }', 10, 3)).toEqual([
      { message: 'The operation selects more than the limit of 3 fields (aliases and fragment uses count each time)', code: 'QUERY_TOO_COMPLEX' },
    ]);
    // A fragment "bomb": 2^10 leaf selections from a few lines.
    const levels = Array.from({ length: 10 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    expect(check(`{ ...F0 } ${levels} fragment F10 on Query { leaf }`, 10, 200)).toEqual([
      { message: 'The operation selects more than the limit of 200 fields (aliases and fragment uses count each time)', code: 'QUERY_TOO_COMPLEX' },
    ]);
  });

  it('leaves fragment cycles to the standard rule (and terminates)', () => {
    const errors = check('{ root { ...A } } fragment A on Node { child { ...A } }', 10, 100);
    expect(errors).toEqual([{ message: 'Cannot spread fragment "A" within itself.', code: null }]);
  });

  it('does not descend into introspection', () => {
    expect(check(getIntrospectionQuery(), 2, 5)).toEqual([]);
  });

  it('checks each operation of a document separately', () => {
    expect(check('query A { a: leaf b: leaf } query B { c: leaf d: leaf }', 10, 2)).toEqual([]);
  });
});
