import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: typed documents (TypedDocumentNode) for the operations in examples/*.graphql, checked against
 * the committed schema.graphql. The integration tests send these documents; a client such as Apollo Client can use
 * them as they are.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['examples/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { Upload: 'File', SafeInt: 'number', DateTimeISO: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        skipTypename: true,
      },
    },
  },
};

export default config;
