import type { CodegenConfig } from '@graphql-codegen/cli';

const scalars = { Upload: 'File', SafeInt: 'number', DateTimeISO: 'string' };
const documentConfig = { scalars, enumsAsTypes: true, useTypeImports: true, emitLegacyCommonJSImports: false, skipTypename: true };

/**
 * `npm run codegen`: typed documents (TypedDocumentNode) checked against the committed schema.graphql, for the
 * operations in examples/*.graphql (test/generated/: the integration tests send them; a client such as Apollo Client
 * can use them as they are) and for the playground's operations in web/src/operations/ (web/src/generated/, used with
 * urql by the page at /).
 */
const config: CodegenConfig = {
  ignoreNoDocuments: false,
  generates: {
    'test/generated/': {
      schema: 'schema.graphql',
      documents: ['examples/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: documentConfig,
    },
    'web/src/generated/': {
      schema: 'schema.graphql',
      documents: ['web/src/operations/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: documentConfig,
    },
  },
};

export default config;
