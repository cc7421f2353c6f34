import type { ModelBackend } from '../backend/model-backend.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { RegistryEntry } from './repository.ts';
import type { VariantMemory } from './variant-memory.ts';

/** A variant's lifecycle, with what each state holds (Apollo's ServerState pattern). */
export type Slot =
  | { state: 'unloaded' }
  | { state: 'loading'; promise: Promise<ModelBackend> }
  | { state: 'ready'; worker: ModelBackend }
  | { state: 'failed'; error: ServiceError };

export interface Variant {
  entry: RegistryEntry;
  slot: Slot;
  /** Never evicted for the memory budget. */
  pinned: boolean;
  /** `performance.now()` of the last acquire: the eviction order (least recently used first). */
  lastUsed: number;
}

export function loadError(name: string, cause: unknown): ServiceError {
  const inner = cause instanceof ServiceError ? `${cause.code}: ${cause.message}` : cause instanceof Error ? cause.message : String(cause);
  return new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `Cannot load model "${name}": ${inner}`, { cause, details: { model: name } });
}

export function inUseError(name: string, message: string, inFlight: number): ServiceError {
  return new ServiceError(ErrorCode.MODEL_IN_USE, message, { details: { model: name, inFlight } });
}

/** What a variant is counted as against the memory budget: weights plus working bound (see variant-memory.ts), 0 when not installed. */
export type CostOf = (entry: RegistryEntry) => number;

/** Changes when variant.json or the installed manifest (or its files' sizes) change. */
export function fingerprint(entry: RegistryEntry): string {
  const installation = entry.installation;
  return JSON.stringify([entry.config, installation.status, installation.status === 'absent' ? null : installation.manifest, installation.status === 'installed' ? installation.bytes : null]);
}

export function closedError(): ServiceError {
  return new ServiceError(ErrorCode.MODEL_LOAD_FAILED, 'The model registry is closed');
}

export function budgetError(name: string, memory: VariantMemory | null, budgetBytes: number, usedBytes: number): ServiceError {
  const cost = memory?.totalBytes ?? 0;
  const parts = memory ? ` = ${memory.weightBytes} of weights + ${memory.workingBytes} of working memory` : '';
  return new ServiceError(
    ErrorCode.MEMORY_BUDGET_EXCEEDED,
    `Cannot load model "${name}" (${cost} bytes${parts}): the memory budget of ${budgetBytes} bytes has ${budgetBytes - usedBytes} bytes free and every other loaded variant is pinned or busy`,
    {
      details: {
        model: name,
        bytes: cost,
        weightBytes: memory?.weightBytes ?? 0,
        workingBytes: memory?.workingBytes ?? 0,
        workingParts: { ...memory?.workingParts },
        budgetBytes,
        usedBytes,
        retryAfterMs: 1000,
      },
    },
  );
}

/** The other variants that hold memory now, as `chooseEvictions` sees them: idle, unpinned, ready ones are evictable. */
export function loadedOthers(variant: Variant, variants: readonly Variant[], leasesOf: (backend: ModelBackend) => number, costOf: CostOf) {
  return variants
    .filter((v) => v !== variant && (v.slot.state === 'ready' || v.slot.state === 'loading'))
    .map((v) => ({
      name: v.entry.config.name,
      cost: costOf(v.entry),
      lastUsed: v.lastUsed,
      evictable: v.slot.state === 'ready' && !v.pinned && leasesOf(v.slot.worker) === 0,
    }));
}
