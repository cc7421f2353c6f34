import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface WebPagesOptions {
  /** The built pages (web/dist/, written by `npm run build:web` or by `npm start`'s prestart step). */
  dir: string;
  /** Serve GraphiQL at /graphiql (it needs introspection to show the schema). */
  graphiql: boolean;
}

/**
 * The browser pages built from web/: the playground at `/` and GraphiQL at `/graphiql`, with their hashed assets
 * under `/assets/`. Everything comes from this server: no CDN, no fonts from elsewhere.
 *
 * Their CSP is helmet's default without `upgrade-insecure-requests`: that directive makes a browser fetch the page's
 * own scripts over https, which breaks the pages on a plain-http server reached by name or LAN address (the usual
 * way to try `npm start` on another machine). Everything else (script, worker and connect sources 'self', inline
 * styles, data: fonts and images) is the default, which GraphiQL's Monaco editor works with.
 */
export function createWebPages(options: WebPagesOptions): Router {
  const router = Router();
  const csp = helmet.contentSecurityPolicy({ directives: { upgradeInsecureRequests: null } });
  const page = (file: string): RequestHandler =>
    function sendPage(_req, res) {
      const path = join(options.dir, file);
      if (!existsSync(path)) {
        res.status(503).type('text/plain').send('The browser pages are not built. Run `npm run build:web` (or `npm start`, which builds them first), then reload.\n');
        return;
      }
      res.setHeader('cache-control', 'no-cache');
      res.sendFile(path);
    };

  router.get('/', csp, page('index.html'));
  if (options.graphiql) router.get('/graphiql', csp, page('graphiql.html'));
  // Hashed file names: a file never changes under its name, so browsers may keep it.
  router.use('/assets', csp, express.static(join(options.dir, 'assets'), { immutable: true, maxAge: '1y', index: false }));
  return router;
}
