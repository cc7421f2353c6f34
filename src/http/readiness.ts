import type { RequestHandler } from 'express';
import type { ModelRegistry } from '../registry/types.ts';

/**
 * GET /readyz: 200 when every default variant (the ones requests without a model use) is installed and has not
 * failed to load, else 503. The registry itself is valid whenever the server runs (it refuses to start otherwise, and
 * a failed rescan keeps the previous registry). The body lists every variant's readiness.
 */
export function readiness(registry: ModelRegistry): RequestHandler {
  return function readyz(_req, res) {
    const variants = registry.list().map((info) => ({
      name: info.name,
      task: info.task,
      default: info.isDefault,
      installed: info.installed,
      state: info.state,
      ready: info.installed && info.state !== 'failed',
    }));
    const ready = variants.filter((variant) => variant.default).every((variant) => variant.ready);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', variants });
  };
}
