import { resolve } from 'node:path';
import type { ModelBackend } from '../backend/model-backend.ts';
import type { Task } from '../variant/manifest.ts';
import type { ModelRegistryOptions, RegistryEvent } from './registry-options.ts';
import { UnreachableCaseError } from '../errors.ts';
import { prepareEmbeddedVariant } from './embedded-variant.ts';
import { refreshInstallation, scanRegistry, type RegistryEntry } from './repository.ts';
import { chooseEvictions } from './memory-budget.ts';
import type { Lease, ManagedRegistry, RescanResult, VariantInfo } from './types.ts';
import { defaultVariant, describeVariant, namedVariant, requireInstalled, wrongTaskError } from './variant-lookup.ts';
import { runtimeSettings, variantMemory } from './variant-memory.ts';
import { budgetError, closedError, fingerprint, inUseError, loadedOthers, loadError, type Variant } from './variant-slot.ts';
export type { ModelRegistryOptions, RegistryEvent } from './registry-options.ts';

/** Scans and validates the registry folder (throws INVALID_VARIANT on the first problem); loads nothing. */
export async function createModelRegistry(options: ModelRegistryOptions): Promise<FileModelRegistry> {
  const root = resolve(options.root);
  const repoRoot = resolve(options.repoRoot);
  const entries = await scanRegistry(root, repoRoot);
  const registry = new FileModelRegistry({ ...options, root, repoRoot }, entries);
  for (const name of options.pinned ?? []) registry.pin(name, true);
  return registry;
}

/**
 * The registry over a folder of variants (see registry/README.md). Workers start lazily on the first `acquire` of
 * their variant; concurrent first calls share one load; a worker that dies is forgotten so the next call starts
 * another.
 */
export class FileModelRegistry implements ManagedRegistry {
  private variants: Variant[];
  /** Names and aliases, case-sensitive. */
  private byName = new Map<string, Variant>();
  private closed = false;
  /** Model passes running on each worker (see `lease`). */
  private readonly leases = new Map<ModelBackend, number>();
  /** Replaced workers that still run passes: terminated when their last lease is released. */
  private readonly retiring = new Set<ModelBackend>();
  private rescanning: Promise<RescanResult> | undefined;
  private readonly memoryOf = (entry: RegistryEntry) => variantMemory(entry, this.options.pipeline, this.options.families);
  private readonly costOf = (entry: RegistryEntry) => this.memoryOf(entry)?.totalBytes ?? 0;

  /** Use `createModelRegistry`. */
  constructor(
    private readonly options: ModelRegistryOptions,
    entries: readonly RegistryEntry[],
  ) {
    this.variants = entries.map((entry) => ({ entry, slot: { state: 'unloaded' }, pinned: false, lastUsed: 0 }));
    this.index();
  }

  /**
   * Converts embedded variants whose files are missing or out of date, one after the other. The server calls this
   * before it listens; a failure is a start-up failure.
   */
  async prepareEmbedded(): Promise<void> {
    for (const variant of this.variants) {
      const { entry } = variant;
      if (entry.config.source.kind !== 'checkpoint' || !entry.config.source.embedded || entry.checkpointDir === null) continue;
      const outcome = await prepareEmbeddedVariant({ config: entry.config, file: entry.file, dir: entry.dir, checkpointDir: entry.checkpointDir }, (event) =>
        this.emit(event),
      );
      if (outcome === 'converted' || entry.installation.status !== 'installed') entry.installation = await refreshInstallation(entry);
    }
  }

  list(): VariantInfo[] {
    return this.variants.map((variant) => this.describe(variant));
  }

  /** The backends of the variants that are ready now; loads nothing (for metrics that ask backends for statistics). */
  readyBackends(): Array<{ name: string; backend: ModelBackend }> {
    return this.variants.flatMap((v) => (v.slot.state === 'ready' ? [{ name: v.entry.config.name, backend: v.slot.worker }] : []));
  }
  find(nameOrAlias: string): VariantInfo | undefined {
    const variant = this.byName.get(nameOrAlias);
    return variant && this.describe(variant);
  }

  resolve(nameOrAlias: string | undefined, task: Task): VariantInfo {
    const variant = nameOrAlias === undefined ? defaultVariant(this.variants, task) : namedVariant(this.byName, nameOrAlias);
    const { config } = variant.entry;
    if (config.task !== task) throw wrongTaskError(config.name, config.task, task, this.variants);
    requireInstalled(variant, this.options.repoRoot);
    return this.describe(variant);
  }

  async acquire(nameOrAlias: string): Promise<ModelBackend> {
    this.requireOpen();
    const variant = namedVariant(this.byName, nameOrAlias);
    requireInstalled(variant, this.options.repoRoot);
    variant.lastUsed = performance.now();
    const slot = variant.slot;
    switch (slot.state) {
      case 'ready':
        return slot.worker;
      case 'loading':
        return slot.promise;
      case 'unloaded':
      case 'failed':
        return this.loadWorker(variant);
      default:
        throw new UnreachableCaseError(slot);
    }
  }

  /**
   * The variant's worker, held for one model pass: until `release()`, the variant is neither evicted nor unloaded, and
   * a worker replaced by a rescan keeps running until its last lease is released.
   */
  async lease(nameOrAlias: string): Promise<Lease> {
    for (;;) {
      const worker = await this.acquire(nameOrAlias);
      const variant = namedVariant(this.byName, nameOrAlias);
      // The worker may have been evicted or replaced between its load and now: take the current one.
      if (variant.slot.state !== 'ready' || variant.slot.worker !== worker) continue;
      this.leases.set(worker, (this.leases.get(worker) ?? 0) + 1);
      let released = false;
      return {
        backend: worker,
        release: () => {
          if (released) return;
          released = true;
          const left = (this.leases.get(worker) ?? 1) - 1;
          if (left > 0) {
            this.leases.set(worker, left);
            return;
          }
          this.leases.delete(worker);
          if (this.retiring.delete(worker)) void worker.close();
        },
      };
    }
  }

  /** Model passes running on the variant's current worker. */
  inFlight(nameOrAlias: string): number {
    const slot = namedVariant(this.byName, nameOrAlias).slot;
    return slot.state === 'ready' ? (this.leases.get(slot.worker) ?? 0) : 0;
  }

  /** Loads the variant now (or waits for the load in progress); the admin `loadModel`, and PRELOAD_MODELS. */
  async load(nameOrAlias: string): Promise<VariantInfo> {
    await this.acquire(nameOrAlias);
    return this.describe(namedVariant(this.byName, nameOrAlias));
  }

  /**
   * Stops the variant's worker. Refused with MODEL_IN_USE while it runs model passes, while it loads, or when it is
   * pinned: unloading never interrupts requests (the client retries, or an operator unpins first).
   */
  async unload(nameOrAlias: string): Promise<VariantInfo> {
    const variant = namedVariant(this.byName, nameOrAlias);
    const name = variant.entry.config.name;
    const slot = variant.slot;
    if (variant.pinned) throw inUseError(name, `Model "${name}" is pinned; unpin it first`, 0);
    if (slot.state === 'loading') throw inUseError(name, `Model "${name}" is loading; try again when it is ready`, 0);
    if (slot.state === 'ready') {
      const running = this.leases.get(slot.worker) ?? 0;
      if (running > 0) throw inUseError(name, `Model "${name}" has ${running} model passes running; try again when they finished`, running);
      variant.slot = { state: 'unloaded' };
      this.emit({ type: 'unloaded', variant: name, reason: 'admin' });
      await slot.worker.close();
    } else if (slot.state === 'failed') {
      variant.slot = { state: 'unloaded' };
    }
    return this.describe(variant);
  }

  /** A pinned variant is never evicted to make room for another (it may still be unloaded after unpinning). */
  pin(nameOrAlias: string, pinned: boolean): VariantInfo {
    const variant = namedVariant(this.byName, nameOrAlias);
    variant.pinned = pinned;
    return this.describe(variant);
  }

  /** The memory budget and what the loaded (and loading) variants take of it, in bytes. */
  memory(): { budgetBytes: number; usedBytes: number } {
    const usedBytes = this.variants.filter((v) => v.slot.state === 'ready' || v.slot.state === 'loading').reduce((sum, v) => sum + this.costOf(v.entry), 0);
    return { budgetBytes: this.budget(), usedBytes };
  }

  /**
   * Scans the registry folder again, without a restart. An invalid registry throws INVALID_VARIANT and changes
   * nothing. New variants are added (unloaded). A variant whose variant.json or manifest changed gets the new
   * version: a loaded one is reloaded first and swapped in only when the new worker started (the old one finishes
   * its passes, then stops); when the reload fails, the old version keeps serving (still `ready`) and the variant is
   * listed under `failed`.
   * A removed variant is dropped unless it is busy (loading or running passes), in which case it stays until a
   * later rescan. Embedded variants are not converted here (that happens at start-up).
   */
  rescan(): Promise<RescanResult> {
    this.requireOpen();
    this.rescanning ??= this.rescanOnce().finally(() => {
      this.rescanning = undefined;
    });
    return this.rescanning;
  }

  /** Refuses new work, waits for loads in flight, and stops every worker. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    const loads = this.variants.flatMap((variant) => (variant.slot.state === 'loading' ? [variant.slot.promise] : []));
    await Promise.allSettled(loads);
    const workers: ModelBackend[] = [];
    for (const variant of this.variants) {
      const slot = variant.slot;
      switch (slot.state) {
        case 'ready':
          workers.push(slot.worker);
          variant.slot = { state: 'unloaded' };
          break;
        case 'unloaded':
        case 'failed':
        case 'loading': // every load was awaited above; one that finishes after close() terminates its own worker
          break;
        default:
          throw new UnreachableCaseError(slot);
      }
    }
    workers.push(...this.retiring);
    this.retiring.clear();
    await Promise.all(workers.map((worker) => worker.close()));
  }

  // Private: single flight — the slot holds the promise before anything is awaited. Room in the memory budget is made
  // (or refused) synchronously, so two loads never both count on the same free bytes.
  private loadWorker(variant: Variant): Promise<ModelBackend> {
    const evicted = this.makeRoom(variant);
    const promise = evicted.then(() => this.startWorker(variant));
    variant.slot = { state: 'loading', promise };
    return promise;
  }

  private budget(): number {
    return this.options.memoryBudgetBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Evicts what `chooseEvictions` picks; throws MEMORY_BUDGET_EXCEEDED (evicting nothing) when that is not enough. */
  private makeRoom(variant: Variant): Promise<unknown> {
    const name = variant.entry.config.name;
    const plan = chooseEvictions(this.costOf(variant.entry), this.budget(), loadedOthers(variant, this.variants, (backend) => this.leases.get(backend) ?? 0, this.costOf));
    if (plan === null) throw budgetError(name, this.memoryOf(variant.entry), this.budget(), this.memory().usedBytes);
    const stopping: Array<Promise<void>> = [];
    for (const victimName of plan) {
      const victim = namedVariant(this.byName, victimName);
      if (victim.slot.state !== 'ready') continue;
      stopping.push(victim.slot.worker.close());
      victim.slot = { state: 'unloaded' };
      this.emit({ type: 'unloaded', variant: victimName, reason: 'evicted' });
    }
    return Promise.all(stopping);
  }

  private async rescanOnce(): Promise<RescanResult> {
    const entries = await scanRegistry(this.options.root, this.options.repoRoot);
    const result: RescanResult = { added: [], removed: [], updated: [], unchanged: [], failed: [] };
    const fresh = new Map(entries.map((entry) => [entry.config.name, entry]));
    const kept: Variant[] = [];
    for (const variant of this.variants) {
      const name = variant.entry.config.name;
      const entry = fresh.get(name);
      fresh.delete(name);
      if (entry === undefined) {
        const slot = variant.slot;
        const busy = slot.state === 'loading' || (slot.state === 'ready' && (this.leases.get(slot.worker) ?? 0) > 0);
        if (busy) {
          result.failed.push({ name, message: `"${name}" was removed from the registry but is busy; it stays until a later rescan` });
          kept.push(variant);
          continue;
        }
        if (slot.state === 'ready') {
          variant.slot = { state: 'unloaded' };
          this.emit({ type: 'unloaded', variant: name, reason: 'removed' });
          await slot.worker.close();
        }
        result.removed.push(name);
        continue;
      }
      kept.push(variant);
      if (fingerprint(entry) === fingerprint(variant.entry)) {
        result.unchanged.push(name);
        continue;
      }
      const failure = await this.replace(variant, entry);
      if (failure === null) result.updated.push(name);
      else result.failed.push({ name, message: failure });
    }
    for (const entry of fresh.values()) {
      kept.push({ entry, slot: { state: 'unloaded' }, pinned: false, lastUsed: 0 });
      result.added.push(entry.config.name);
    }
    this.variants = kept;
    this.index();
    this.emit({ type: 'rescanned', added: result.added, removed: result.removed, updated: result.updated, failed: result.failed.map((f) => f.name) });
    return result;
  }

  /** Moves a variant to a new version; null when done, else why the old version stays. */
  private async replace(variant: Variant, entry: RegistryEntry): Promise<string | null> {
    const name = entry.config.name;
    const slot = variant.slot;
    if (slot.state === 'loading') return `"${name}" is loading; rescan again once it is ready`;
    if (slot.state !== 'ready') {
      variant.entry = entry;
      variant.slot = { state: 'unloaded' };
      return null;
    }
    if (entry.installation.status !== 'installed') {
      return `the new version of "${name}" is not installed (${entry.installation.status}); the old version keeps serving`;
    }
    let worker: ModelBackend;
    try {
      worker = await this.spawn(name, entry.dir);
    } catch (cause) {
      const error = loadError(name, cause);
      this.emit({ type: 'load-failed', variant: name, error });
      return `${error.message}; the old version keeps serving`;
    }
    if (this.closed) {
      await worker.close();
      return 'the registry closed';
    }
    const old = variant.slot.state === 'ready' ? variant.slot.worker : undefined;
    variant.entry = entry;
    variant.slot = { state: 'ready', worker };
    if (old) {
      this.emit({ type: 'unloaded', variant: name, reason: 'replaced' });
      if ((this.leases.get(old) ?? 0) > 0) this.retiring.add(old);
      else await old.close();
    }
    return null;
  }

  private index(): void {
    this.variants.sort((a, b) => a.entry.config.name.localeCompare(b.entry.config.name));
    const byName = new Map<string, Variant>();
    for (const variant of this.variants) {
      for (const name of [variant.entry.config.name, ...variant.entry.config.aliases]) byName.set(name, variant);
    }
    this.byName = byName;
  }

  /** Starts a worker for `dir`, forgetting it when it exits while it is the variant's current worker. */
  private async spawn(name: string, dir: string): Promise<ModelBackend> {
    this.emit({ type: 'load-started', variant: name });
    const started = performance.now();
    const entry = this.byName.get(name)?.entry;
    const worker = await this.options.startBackend(dir, entry ? runtimeSettings(entry, this.options.pipeline) : this.options.pipeline);
    worker.onFailure((error) => {
      // Only the current worker: a stale one exiting must not unload its replacement.
      const variant = this.byName.get(name);
      if (variant && variant.slot.state === 'ready' && variant.slot.worker === worker) {
        variant.slot = { state: 'unloaded' };
        this.emit({ type: 'worker-exited', variant: name, message: error.message });
      }
    });
    this.emit({ type: 'load-finished', variant: name, durationMs: performance.now() - started });
    return worker;
  }

  private async startWorker(variant: Variant): Promise<ModelBackend> {
    const name = variant.entry.config.name;
    let worker: ModelBackend;
    try {
      worker = await this.spawn(name, variant.entry.dir);
    } catch (cause) {
      const error = loadError(name, cause);
      variant.slot = { state: 'failed', error };
      this.emit({ type: 'load-failed', variant: name, error });
      throw error;
    }
    if (this.closed) {
      variant.slot = { state: 'unloaded' };
      await worker.close();
      throw closedError();
    }
    variant.slot = { state: 'ready', worker };
    return worker;
  }

  private describe(variant: Variant): VariantInfo {
    const { slot } = variant;
    return describeVariant(variant, this.options.repoRoot, slot.state === 'ready' ? (this.leases.get(slot.worker) ?? 0) : 0, this.memoryOf(variant.entry));
  }

  private requireOpen(): void {
    if (this.closed) throw closedError();
  }

  private emit(event: RegistryEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A logging callback must not break loading; there is nowhere better to report its failure.
    }
  }
}


