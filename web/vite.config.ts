import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Two pages from web/: the playground (index.html, served at /) and GraphiQL (graphiql.html, served at /graphiql).
 * Hashed assets under /assets/; Monaco's workers are separate files there too, because the server's CSP allows
 * workers only from its own origin (no blob: or data: workers).
 */
export default defineConfig({
  root: here('.'),
  base: '/',
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 8000,
    // Fonts and small files stay files: the CSP allows fonts and images from 'self' and data:, but files keep it simple.
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { playground: here('index.html'), graphiql: here('graphiql.html') },
      // framer-motion (a GraphiQL dependency) marks its modules "use client", which means nothing outside React
      // Server Components; the warning for each of them would bury real ones.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  worker: { format: 'es' },
  // React's production build whatever NODE_ENV the building process has (vitest sets "test", which would select
  // React's development build, with its warnings and slower rendering).
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
});
