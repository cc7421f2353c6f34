import type { ModelBackend } from '../backend/model-backend.ts';
import type { ServiceError } from '../errors.ts';
import type { RuntimeOptions } from '../models/family.ts';
import type { MemoryFamilies } from './variant-memory.ts';
import type { PrepareEvent } from './embedded-variant.ts';

export interface ModelRegistryOptions {
  /** The registry folder: one sub-folder per variant. */
  root: string;
  /** What `source.checkpoint` paths are relative to, and what install commands are written relative to. */
  repoRoot: string;
  /** Handed to every backend the registry starts. */
  pipeline: RuntimeOptions;
  /** Starts a variant's backend (main.ts passes the worker-thread backend; tests may pass another implementation). */
  startBackend: (variantDir: string, options: RuntimeOptions) => Promise<ModelBackend>;
  /** Progress for logs and metrics; must not throw. */
  onEvent?: (event: RegistryEvent) => void;
  /**
   * Bytes the loaded variants may take together, each counted as its weights plus its family's working-memory bound
   * (`VariantInfo.memory`, variant-memory.ts). Loading a variant beyond it first evicts the least recently used
   * unpinned, idle, ready variants. Default: no limit.
   */
  memoryBudgetBytes?: number;
  /** The families whose working-memory bounds are counted (main.ts: FAMILIES). Without it only weights are counted. */
  families?: MemoryFamilies;
  /** Variants never evicted (names or aliases; unknown names throw MODEL_NOT_FOUND at creation). */
  pinned?: readonly string[];
}

export type RegistryEvent =
  | PrepareEvent
  | { type: 'load-started'; variant: string }
  | { type: 'load-finished'; variant: string; durationMs: number }
  | { type: 'load-failed'; variant: string; error: ServiceError }
  | { type: 'worker-exited'; variant: string; message: string }
  | { type: 'unloaded'; variant: string; reason: 'evicted' | 'admin' | 'removed' | 'replaced' }
  | { type: 'rescanned'; added: string[]; removed: string[]; updated: string[]; failed: string[] };
