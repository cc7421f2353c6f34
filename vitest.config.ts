import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One graphql module, as at run time: Vite would resolve a bare `graphql` import in our sources to its ESM build
  // (index.mjs, the "module" field) while type-graphql and Apollo, loaded by Node, get the CommonJS build; two copies
  // fail with "Cannot use GraphQLSchema from another module or realm".
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    // ONNX sessions and worker threads are heavy on a 2-core machine: run files one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
