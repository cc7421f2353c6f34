import type { RequestHandler } from 'express';
import type { RedisHealth } from '../redis/redis-connection.ts';
import type { ModelRegistry } from '../registry/types.ts';

export interface ReadinessOptions {
  /** True once the process stopping (SIGTERM): /readyz turns 503 so that load balancers stop sending. */
  draining?: () => boolean;
  /** The shared state's connection, when REDIS_URL is set: reported, but it does not make the replica unready. */
  redis?: () => RedisHealth;
}

/**
 * GET /readyz: 200 when every default variant (the ones requests without a model use) is installed and has not
 * failed to load, else 503. The registry itself is valid whenever the server runs (it refuses to start otherwise, and
 * a failed rescan keeps the previous registry). The body lists every variant's readiness.
 *
 * A draining server (after SIGTERM) is not ready. Redis is reported but does not count: every replica shares it, so
 * taking them all out of the load balancer would turn an outage of `imageId` requests into an outage of everything.
 */
export function readiness(registry: ModelRegistry, options: ReadinessOptions = {}): RequestHandler {
  return function readyz(_req, res) {
    const variants = registry.list().map((info) => ({
      name: info.name,
      task: info.task,
      default: info.isDefault,
      installed: info.installed,
      state: info.state,
      ready: info.installed && info.state !== 'failed',
    }));
    const draining = options.draining?.() ?? false;
    const ready = !draining && variants.filter((variant) => variant.default).every((variant) => variant.ready);
    res.status(ready ? 200 : 503).json({
      status: draining ? 'draining' : ready ? 'ready' : 'not ready',
      variants,
      ...(options.redis ? { redis: { status: options.redis().status, since: new Date(options.redis().since).toISOString() } } : {}),
    });
  };
}
