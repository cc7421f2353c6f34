import type { BlipTask } from '../models/blip/checkpoint/blip-config.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ManagedRegistry, VariantInfo } from '../registry/types.ts';
import type { InstallJobs } from './install-jobs.ts';

/** A failed automatic install (a gated repository, a network outage) is tried again by requests at most this often. */
const RETRY_FAILED_AFTER_MS = 30_000;

/**
 * AUTO_INSTALL=true: the registry as the request layer sees it, where asking for a listed but not installed variant
 * that comes from the Hub starts its install (once: installs are single-flight) and fails with MODEL_NOT_INSTALLED
 * carrying `retryAfterMs` and the install's progress. Everything else goes to the registry unchanged.
 */
export function withAutoInstall<R extends ManagedRegistry>(registry: R, jobs: InstallJobs): R {
  const resolve = (nameOrAlias: string | undefined, task: BlipTask): VariantInfo => {
    try {
      return registry.resolve(nameOrAlias, task);
    } catch (error) {
      if (!(error instanceof ServiceError) || error.code !== ErrorCode.MODEL_NOT_INSTALLED) throw error;
      const name = typeof error.details?.model === 'string' ? error.details.model : undefined;
      const info = name === undefined ? undefined : registry.find(name);
      if (!info || !isHubSource(info)) throw error;
      const status = jobs.start(info.name, { retryFailedAfterMs: RETRY_FAILED_AFTER_MS });
      const progress = status.bytesTotal > 0 ? `, ${Math.floor((100 * status.bytesDone) / status.bytesTotal)}% downloaded` : '';
      // Only the failure's kind: MODEL_NOT_INSTALLED messages are not redacted, and pull errors name cache folders.
      const failure = status.error?.split(':')[0] ?? null;
      const now =
        status.state === 'failed' ? `its install failed (${failure}); it is tried again after ${RETRY_FAILED_AFTER_MS / 1000} s` : `it is being installed now (${status.phase}${progress})`;
      throw new ServiceError(ErrorCode.MODEL_NOT_INSTALLED, `Model "${info.name}" is not installed; ${now}; try again later`, {
        details: {
          ...error.details,
          retryAfterMs: status.state === 'failed' ? Math.max(1000, RETRY_FAILED_AFTER_MS - (Date.now() - (status.finishedAt ?? 0))) : jobs.retryAfterMs(info.name),
          install: { state: status.state.toUpperCase(), phase: status.phase.toUpperCase(), bytesDone: status.bytesDone, bytesTotal: status.bytesTotal, error: failure },
        },
      });
    }
  };
  return new Proxy(registry, {
    get(target, property, receiver) {
      if (property === 'resolve') return resolve;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Variants whose weights come from the Hub: the registry's install command for them is a pull. */
export function isHubSource(info: VariantInfo): boolean {
  return info.installCommand?.startsWith('npx blip-gateway pull ') === true;
}
