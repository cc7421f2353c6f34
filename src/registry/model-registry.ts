import { isAbsolute, relative, resolve } from 'node:path';
import type { BlipTask } from '../checkpoint/blip-config.ts';
import type { PipelineOptions } from '../blip/pipeline.ts';
import { BlipWorker } from '../blip/worker/blip-worker.ts';
import { ErrorCode, ServiceError, UnreachableCaseError } from '../errors.ts';
import { closestNames } from './closest-names.ts';

/** Longer names cannot be variant names or aliases; they are refused without computing suggestions. */
const MAX_NAME_LENGTH = 200;
import { prepareEmbeddedVariant, type PrepareEvent } from './embedded-variant.ts';
import { refreshInstallation, scanRegistry, type RegistryEntry } from './repository.ts';
import { chooseEvictions } from './memory-budget.ts';
import type { Lease, ManagedRegistry, RescanResult, VariantInfo, VariantState } from './types.ts';

export interface ModelRegistryOptions {
  /** The registry folder: one sub-folder per variant. */
  root: string;
  /** What `source.checkpoint` paths are relative to, and what install commands are written relative to. */
  repoRoot: string;
  /** Handed to every inference worker. */
  pipeline: PipelineOptions;
  /** Progress for logs and metrics; must not throw. */
  onEvent?: (event: RegistryEvent) => void;
  /**
   * Bytes the loaded variants may take together, each counted as its manifest's file bytes (see `costOf`). Loading a
   * variant beyond it first evicts the least recently used unpinned, idle, ready variants. Default: no limit.
   */
  memoryBudgetBytes?: number;
  /** Variants never evicted (names or aliases; unknown names throw MODEL_NOT_FOUND at creation). */
  pinned?: readonly string[];
}

export type RegistryEvent =
  | PrepareEvent
  | { type: 'load-started'; variant: string }
  | { type: 'load-finished'; variant: string; durationMs: number }
  | { type: 'load-failed'; variant: string; error: ServiceError }
  | { type: 'worker-exited'; variant: string; exitCode: number }
  | { type: 'unloaded'; variant: string; reason: 'evicted' | 'admin' | 'removed' | 'replaced' }
  | { type: 'rescanned'; added: string[]; removed: string[]; updated: string[]; failed: string[] };

/** A variant's lifecycle, with what each state holds (Apollo's ServerState pattern). */
type Slot =
  | { state: 'unloaded' }
  | { state: 'loading'; promise: Promise<BlipWorker> }
  | { state: 'ready'; worker: BlipWorker }
  | { state: 'failed'; error: ServiceError };

interface Variant {
  entry: RegistryEntry;
  slot: Slot;
  /** Never evicted for the memory budget. */
  pinned: boolean;
  /** `performance.now()` of the last acquire: the eviction order (least recently used first). */
  lastUsed: number;
}

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
  private readonly leases = new Map<BlipWorker, number>();
  /** Replaced workers that still run passes: terminated when their last lease is released. */
  private readonly retiring = new Set<BlipWorker>();
  private rescanning: Promise<RescanResult> | undefined;

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
    return this.variants.map((variant) => this.info(variant));
  }

  /** The workers of the variants that are ready now; loads nothing (for metrics that ask workers for statistics). */
  readyWorkers(): Array<{ name: string; worker: BlipWorker }> {
    return this.variants.flatMap((variant) => (variant.slot.state === 'ready' ? [{ name: variant.entry.config.name, worker: variant.slot.worker }] : []));
  }

  find(nameOrAlias: string): VariantInfo | undefined {
    const variant = this.byName.get(nameOrAlias);
    return variant && this.info(variant);
  }

  resolve(nameOrAlias: string | undefined, task: BlipTask): VariantInfo {
    const variant = nameOrAlias === undefined ? this.defaultFor(task) : this.named(nameOrAlias);
    const { config } = variant.entry;
    if (config.task !== task) {
      const alternative = this.variants.find((other) => other.entry.config.task === task && other.entry.config.isDefault)?.entry.config.name;
      throw new ServiceError(
        ErrorCode.WRONG_TASK,
        `Model "${config.name}" is a ${config.task} model and cannot ${task === 'vqa' ? 'answer questions' : 'caption images'}` +
          (alternative ? `; use a ${task} model such as "${alternative}"` : ''),
        { details: { model: config.name, task: config.task, requestedTask: task } },
      );
    }
    this.requireInstalled(variant);
    return this.info(variant);
  }

  async acquire(nameOrAlias: string): Promise<BlipWorker> {
    this.requireOpen();
    const variant = this.named(nameOrAlias);
    this.requireInstalled(variant);
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
      const variant = this.named(nameOrAlias);
      // The worker may have been evicted or replaced between its load and now: take the current one.
      if (variant.slot.state !== 'ready' || variant.slot.worker !== worker) continue;
      this.leases.set(worker, (this.leases.get(worker) ?? 0) + 1);
      let released = false;
      return {
        worker,
        release: () => {
          if (released) return;
          released = true;
          const left = (this.leases.get(worker) ?? 1) - 1;
          if (left > 0) {
            this.leases.set(worker, left);
            return;
          }
          this.leases.delete(worker);
          if (this.retiring.delete(worker)) void worker.terminate();
        },
      };
    }
  }

  /** Model passes running on the variant's current worker. */
  inFlight(nameOrAlias: string): number {
    const slot = this.named(nameOrAlias).slot;
    return slot.state === 'ready' ? (this.leases.get(slot.worker) ?? 0) : 0;
  }

  /** Loads the variant now (or waits for the load in progress); the admin `loadModel`, and PRELOAD_MODELS. */
  async load(nameOrAlias: string): Promise<VariantInfo> {
    await this.acquire(nameOrAlias);
    return this.info(this.named(nameOrAlias));
  }

  /**
   * Stops the variant's worker. Refused with MODEL_IN_USE while it runs model passes, while it loads, or when it is
   * pinned: unloading never interrupts requests (the client retries, or an operator unpins first).
   */
  async unload(nameOrAlias: string): Promise<VariantInfo> {
    const variant = this.named(nameOrAlias);
    const name = variant.entry.config.name;
    const slot = variant.slot;
    if (variant.pinned) throw inUseError(name, `Model "${name}" is pinned; unpin it first`, 0);
    if (slot.state === 'loading') throw inUseError(name, `Model "${name}" is loading; try again when it is ready`, 0);
    if (slot.state === 'ready') {
      const running = this.leases.get(slot.worker) ?? 0;
      if (running > 0) throw inUseError(name, `Model "${name}" has ${running} model passes running; try again when they finished`, running);
      variant.slot = { state: 'unloaded' };
      this.emit({ type: 'unloaded', variant: name, reason: 'admin' });
      await slot.worker.terminate();
    } else if (slot.state === 'failed') {
      variant.slot = { state: 'unloaded' };
    }
    return this.info(variant);
  }

  /** A pinned variant is never evicted to make room for another (it may still be unloaded after unpinning). */
  pin(nameOrAlias: string, pinned: boolean): VariantInfo {
    const variant = this.named(nameOrAlias);
    variant.pinned = pinned;
    return this.info(variant);
  }

  /** The memory budget and what the loaded (and loading) variants take of it, in bytes. */
  memory(): { budgetBytes: number; usedBytes: number } {
    const usedBytes = this.variants.filter((v) => v.slot.state === 'ready' || v.slot.state === 'loading').reduce((sum, v) => sum + costOf(v.entry), 0);
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
    const workers: BlipWorker[] = [];
    for (const variant of this.variants) {
      const slot = variant.slot;
      switch (slot.state) {
        case 'ready':
          workers.push(slot.worker);
          variant.slot = { state: 'unloaded' };
          break;
        case 'unloaded':
        case 'failed':
          break;
        case 'loading':
          // Every load was awaited above and a load that finishes after close() terminates its own worker.
          break;
        default:
          throw new UnreachableCaseError(slot);
      }
    }
    workers.push(...this.retiring);
    this.retiring.clear();
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  // Private: single flight — the slot holds the promise before anything is awaited. Room in the memory budget is made
  // (or refused) synchronously, so two loads never both count on the same free bytes.
  private loadWorker(variant: Variant): Promise<BlipWorker> {
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
    const cost = costOf(variant.entry);
    const loaded = this.variants
      .filter((v) => v !== variant && (v.slot.state === 'ready' || v.slot.state === 'loading'))
      .map((v) => ({
        name: v.entry.config.name,
        cost: costOf(v.entry),
        lastUsed: v.lastUsed,
        evictable: v.slot.state === 'ready' && !v.pinned && (this.leases.get(v.slot.worker) ?? 0) === 0,
      }));
    const plan = chooseEvictions(cost, this.budget(), loaded);
    if (plan === null) {
      const { usedBytes } = this.memory();
      throw new ServiceError(
        ErrorCode.MEMORY_BUDGET_EXCEEDED,
        `Cannot load model "${name}" (${cost} bytes): the memory budget of ${this.budget()} bytes has ${this.budget() - usedBytes} bytes free and every other loaded variant is pinned or busy`,
        { details: { model: name, bytes: cost, budgetBytes: this.budget(), usedBytes, retryAfterMs: 1000 } },
      );
    }
    const stopping: Array<Promise<void>> = [];
    for (const victimName of plan) {
      const victim = this.named(victimName);
      if (victim.slot.state !== 'ready') continue;
      stopping.push(victim.slot.worker.terminate());
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
          await slot.worker.terminate();
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
    let worker: BlipWorker;
    try {
      worker = await this.spawn(name, entry.dir);
    } catch (cause) {
      const error = loadError(name, cause);
      this.emit({ type: 'load-failed', variant: name, error });
      return `${error.message}; the old version keeps serving`;
    }
    if (this.closed) {
      await worker.terminate();
      return 'the registry closed';
    }
    const old = variant.slot.state === 'ready' ? variant.slot.worker : undefined;
    variant.entry = entry;
    variant.slot = { state: 'ready', worker };
    if (old) {
      this.emit({ type: 'unloaded', variant: name, reason: 'replaced' });
      if ((this.leases.get(old) ?? 0) > 0) this.retiring.add(old);
      else await old.terminate();
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
  private async spawn(name: string, dir: string): Promise<BlipWorker> {
    this.emit({ type: 'load-started', variant: name });
    const started = performance.now();
    const batching = this.byName.get(name)?.entry.config.batching;
    const worker = await BlipWorker.start(dir, { ...this.options.pipeline, ...(batching ? { maxRows: batching.maxRows } : {}) });
    worker.onExit((exitCode) => {
      // Only the current worker: a stale one exiting must not unload its replacement.
      const variant = this.byName.get(name);
      if (variant && variant.slot.state === 'ready' && variant.slot.worker === worker) {
        variant.slot = { state: 'unloaded' };
        this.emit({ type: 'worker-exited', variant: name, exitCode });
      }
    });
    this.emit({ type: 'load-finished', variant: name, durationMs: performance.now() - started });
    return worker;
  }

  private async startWorker(variant: Variant): Promise<BlipWorker> {
    const name = variant.entry.config.name;
    let worker: BlipWorker;
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
      await worker.terminate();
      throw closedError();
    }
    variant.slot = { state: 'ready', worker };
    return worker;
  }

  private info(variant: Variant): VariantInfo {
    const { entry, slot } = variant;
    const { config, installation } = entry;
    const installed = installation.status === 'installed';
    return {
      name: config.name,
      aliases: [...config.aliases],
      task: config.task,
      description: config.description,
      installed,
      state: slot.state satisfies VariantState,
      loadError: slot.state === 'failed' ? { code: slot.error.code, message: slot.error.message } : null,
      isDefault: config.isDefault,
      parameters: installed ? installation.manifest.parameters : null,
      precision: config.precision,
      bytes: installed ? installation.bytes : null,
      source: config.source.kind === 'huggingFace' ? config.source.id : config.source.path,
      installCommand: installed ? null : this.installCommand(entry),
      batching: { ...config.batching },
      directory: entry.dir,
      pinned: variant.pinned,
      inFlight: slot.state === 'ready' ? (this.leases.get(slot.worker) ?? 0) : 0,
    };
  }

  /** The one command that installs the variant, written to be run from the repository root. */
  private installCommand(entry: RegistryEntry): string {
    const fromRoot = relative(this.options.repoRoot, entry.dir);
    const out = fromRoot === '' || fromRoot.startsWith('..') || isAbsolute(fromRoot) ? entry.dir : fromRoot;
    const source = entry.config.source;
    // The placeholder stays unquoted: it is for a person to replace, not for a shell.
    const input = source.kind === 'huggingFace' ? `<folder with the downloaded ${source.id} files>` : quote(source.path);
    return `npx blip-gateway convert ${input} --out ${quote(out)}${entry.config.precision === 'fp32' ? '' : ` --precision ${entry.config.precision}`}`;
  }

  private named(nameOrAlias: string): Variant {
    const variant = this.byName.get(nameOrAlias);
    if (variant) return variant;
    if (nameOrAlias.length > MAX_NAME_LENGTH) {
      // No suggestions and no echo: edit distances against a megabyte-long name would stall the server.
      throw new ServiceError(ErrorCode.MODEL_NOT_FOUND, `Unknown model (a name of ${nameOrAlias.length} characters; names are at most ${MAX_NAME_LENGTH})`, {
        details: { suggestions: [] },
      });
    }
    const suggestions = closestNames(nameOrAlias, [...this.byName.keys()].sort());
    throw new ServiceError(
      ErrorCode.MODEL_NOT_FOUND,
      `Unknown model "${nameOrAlias}".${suggestions.length > 0 ? ` Closest: ${suggestions.join(', ')}` : ' The registry is empty'}`,
      { details: { model: nameOrAlias, suggestions } },
    );
  }

  private defaultFor(task: BlipTask): Variant {
    const variant = this.variants.find((v) => v.entry.config.task === task && v.entry.config.isDefault);
    if (variant) return variant;
    const suggestions = this.variants.filter((v) => v.entry.config.task === task && v.entry.installation.status === 'installed').map((v) => v.entry.config.name);
    throw new ServiceError(
      ErrorCode.MODEL_NOT_FOUND,
      `No default ${task} model is configured; name one` + (suggestions.length > 0 ? ` of: ${suggestions.join(', ')}` : ''),
      { details: { task, suggestions } },
    );
  }

  private requireInstalled(variant: Variant): void {
    if (variant.entry.installation.status === 'installed') return;
    const name = variant.entry.config.name;
    const installCommand = this.installCommand(variant.entry);
    throw new ServiceError(ErrorCode.MODEL_NOT_INSTALLED, `Model "${name}" is not installed. Install it with: ${installCommand}`, {
      details: { model: name, installCommand },
    });
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

function loadError(name: string, cause: unknown): ServiceError {
  const inner = cause instanceof ServiceError ? `${cause.code}: ${cause.message}` : cause instanceof Error ? cause.message : String(cause);
  return new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `Cannot load model "${name}": ${inner}`, { cause, details: { model: name } });
}

function inUseError(name: string, message: string, inFlight: number): ServiceError {
  return new ServiceError(ErrorCode.MODEL_IN_USE, message, { details: { model: name, inFlight } });
}

/**
 * What a loaded variant is counted as against the memory budget: the bytes of the files its manifest lists (the ONNX
 * graphs with their external weights, and the tokenizer). ONNX Runtime holds about that much per worker (the weights
 * dominate); activations, the worker thread and the embedding cache come on top, which the budget's margin absorbs.
 */
export function costOf(entry: RegistryEntry): number {
  return entry.installation.status === 'installed' ? entry.installation.bytes : 0;
}

/** Changes when variant.json or the installed manifest (or its files' sizes) change. */
function fingerprint(entry: RegistryEntry): string {
  const installation = entry.installation;
  return JSON.stringify([entry.config, installation.status, installation.status === 'absent' ? null : installation.manifest, installation.status === 'installed' ? installation.bytes : null]);
}

function closedError(): ServiceError {
  return new ServiceError(ErrorCode.MODEL_LOAD_FAILED, 'The model registry is closed');
}

/** Quotes a command-line word only when a shell would split or expand it (placeholders contain spaces). */
function quote(word: string): string {
  return /^[\w./@:+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
