import { isAbsolute, relative, resolve } from 'node:path';
import type { BlipTask } from '../checkpoint/blip-config.ts';
import type { PipelineOptions } from '../blip/pipeline.ts';
import { BlipWorker } from '../blip/worker/blip-worker.ts';
import { ErrorCode, ServiceError, UnreachableCaseError } from '../errors.ts';
import { closestNames } from './closest-names.ts';
import { prepareEmbeddedVariant, type PrepareEvent } from './embedded-variant.ts';
import { refreshInstallation, scanRegistry, type RegistryEntry } from './repository.ts';
import type { ModelRegistry, VariantInfo, VariantState } from './types.ts';

export interface ModelRegistryOptions {
  /** The registry folder: one sub-folder per variant. */
  root: string;
  /** What `source.checkpoint` paths are relative to, and what install commands are written relative to. */
  repoRoot: string;
  /** Handed to every inference worker. */
  pipeline: PipelineOptions;
  /** Progress for logs and metrics; must not throw. */
  onEvent?: (event: RegistryEvent) => void;
}

export type RegistryEvent =
  | PrepareEvent
  | { type: 'load-started'; variant: string }
  | { type: 'load-finished'; variant: string; durationMs: number }
  | { type: 'load-failed'; variant: string; error: ServiceError }
  | { type: 'worker-exited'; variant: string; exitCode: number };

/** A variant's lifecycle, with what each state holds (Apollo's ServerState pattern). */
type Slot =
  | { state: 'unloaded' }
  | { state: 'loading'; promise: Promise<BlipWorker> }
  | { state: 'ready'; worker: BlipWorker }
  | { state: 'failed'; error: ServiceError };

interface Variant {
  entry: RegistryEntry;
  slot: Slot;
}

/** Scans and validates the registry folder (throws INVALID_VARIANT on the first problem); loads nothing. */
export async function createModelRegistry(options: ModelRegistryOptions): Promise<FileModelRegistry> {
  const root = resolve(options.root);
  const repoRoot = resolve(options.repoRoot);
  const entries = await scanRegistry(root, repoRoot);
  return new FileModelRegistry({ ...options, root, repoRoot }, entries);
}

/**
 * The registry over a folder of variants (see registry/README.md). Workers start lazily on the first `acquire` of
 * their variant; concurrent first calls share one load; a worker that dies is forgotten so the next call starts
 * another.
 */
export class FileModelRegistry implements ModelRegistry {
  private readonly variants: Variant[];
  /** Names and aliases, case-sensitive. */
  private readonly byName = new Map<string, Variant>();
  private closed = false;

  /** Use `createModelRegistry`. */
  constructor(
    private readonly options: ModelRegistryOptions,
    entries: readonly RegistryEntry[],
  ) {
    this.variants = [...entries].sort((a, b) => a.config.name.localeCompare(b.config.name)).map((entry) => ({ entry, slot: { state: 'unloaded' } }));
    for (const variant of this.variants) {
      for (const name of [variant.entry.config.name, ...variant.entry.config.aliases]) this.byName.set(name, variant);
    }
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
    const slot = variant.slot;
    switch (slot.state) {
      case 'ready':
        return slot.worker;
      case 'loading':
        return slot.promise;
      case 'unloaded':
      case 'failed':
        return this.load(variant);
      default:
        throw new UnreachableCaseError(slot);
    }
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
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  // Private: single flight — the slot holds the promise before anything is awaited.
  private load(variant: Variant): Promise<BlipWorker> {
    const promise = this.startWorker(variant);
    variant.slot = { state: 'loading', promise };
    return promise;
  }

  private async startWorker(variant: Variant): Promise<BlipWorker> {
    const name = variant.entry.config.name;
    this.emit({ type: 'load-started', variant: name });
    const started = performance.now();
    let worker: BlipWorker | undefined;
    try {
      worker = await BlipWorker.start(variant.entry.dir, this.options.pipeline);
      const current = worker;
      current.onExit((exitCode) => {
        // Only the current worker: a stale one exiting must not unload its replacement.
        if (variant.slot.state === 'ready' && variant.slot.worker === current) {
          variant.slot = { state: 'unloaded' };
          this.emit({ type: 'worker-exited', variant: name, exitCode });
        }
      });
    } catch (cause) {
      await worker?.terminate();
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
    this.emit({ type: 'load-finished', variant: name, durationMs: performance.now() - started });
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
      bytes: installed ? installation.bytes : null,
      source: config.source.kind === 'huggingFace' ? config.source.id : config.source.path,
      installCommand: installed ? null : this.installCommand(entry),
      batching: { ...config.batching },
      directory: entry.dir,
    };
  }

  /** The one command that installs the variant, written to be run from the repository root. */
  private installCommand(entry: RegistryEntry): string {
    const fromRoot = relative(this.options.repoRoot, entry.dir);
    const out = fromRoot === '' || fromRoot.startsWith('..') || isAbsolute(fromRoot) ? entry.dir : fromRoot;
    const source = entry.config.source;
    // The placeholder stays unquoted: it is for a person to replace, not for a shell.
    const input = source.kind === 'huggingFace' ? `<folder with the downloaded ${source.id} files>` : quote(source.path);
    return `npx blip-gateway convert ${input} --out ${quote(out)}`;
  }

  private named(nameOrAlias: string): Variant {
    const variant = this.byName.get(nameOrAlias);
    if (variant) return variant;
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

function closedError(): ServiceError {
  return new ServiceError(ErrorCode.MODEL_LOAD_FAILED, 'The model registry is closed');
}

/** Quotes a command-line word only when a shell would split or expand it (placeholders contain spaces). */
function quote(word: string): string {
  return /^[\w./@:+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
