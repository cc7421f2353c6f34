import type { ModelBackend } from '../backend/model-backend.ts';
import type { Precision, Task } from '../variant/manifest.ts';

/**
 * The model registry: one folder per variant under `registry/` (Triton-style). `variant.json` (committed, written by
 * hand) says what the variant is and where its weights come from; `manifest.json` and the ONNX files next to it are
 * written by `blip-gateway convert` (by the user for official checkpoints, at start-up for embedded ones).
 */

/** Lifecycle of a variant's sessions. Concurrent first requests share one load. */
export type VariantState = 'unloaded' | 'loading' | 'ready' | 'failed';

export interface BatchingSettings {
  /** Most requests one batched model pass takes (Triton's preferred/max batch size). */
  maxBatchSize: number;
  /** Longest a request waits for others to join its batch while the model is busy (Triton's max_queue_delay). */
  maxQueueDelayMs: number;
  /** Requests accepted for this variant and not finished yet, at most; more are refused with OVERLOADED. */
  maxQueueSize: number;
  /**
   * Most decoder rows (requests × beams) the variant's worker decodes together; requests that arrive while it decodes
   * join between steps up to this bound. 1 turns cross-request batching off (a beam request still runs alone).
   */
  maxRows: number;
}

export interface VariantInfo {
  name: string;
  /** Other names clients may use, e.g. the Hugging Face id `Salesforce/blip-image-captioning-base`. */
  aliases: string[];
  task: Task;
  description: string;
  /** True when manifest.json and the converted files are present. */
  installed: boolean;
  state: VariantState;
  /** Why the last load failed (state 'failed'). */
  loadError: { code: string; message: string } | null;
  /** Is this the variant used when a request names none, for its task? */
  isDefault: boolean;
  /** From the manifest when installed. */
  parameters: number | null;
  /** The variant's weight precision (variant.json; an installed manifest agrees). */
  precision: Precision;
  /** Bytes on disk of the converted files, when installed. */
  bytes: number | null;
  /**
   * What the memory budget counts for the variant when it is loaded, when installed: its weights (the files' bytes)
   * plus its family's bound on working memory (batch rows, encoder batch, embedding cache), from its settings.
   */
  memory: { weightBytes: number; workingBytes: number; totalBytes: number } | null;
  /** Hugging Face id or checkpoint folder the variant is made from. */
  source: string;
  /** The Hub commit the installed files were converted from (`blip-gateway pull`), else null. */
  revision: string | null;
  /** How to install it when it is not installed (a command line), else null. */
  installCommand: string | null;
  batching: BatchingSettings;
  directory: string;
  /** Never evicted to make room in the memory budget. */
  pinned: boolean;
  /** Model passes running on the variant now. */
  inFlight: number;
}

/** A backend held for one group of items (see ModelRegistry.lease). */
export interface Lease {
  backend: ModelBackend;
  /** Idempotent. */
  release(): void;
}

/** What `rescan` changed, by variant name. */
export interface RescanResult {
  added: string[];
  removed: string[];
  updated: string[];
  unchanged: string[];
  /** Variants whose new version could not be taken (the old one stays), with why. */
  failed: Array<{ name: string; message: string }>;
}

export interface ModelRegistry {
  /** Every variant, sorted by name. */
  list(): VariantInfo[];
  /** A variant by name or alias (case-sensitive), or undefined. */
  find(nameOrAlias: string): VariantInfo | undefined;
  /**
   * The variant a request for `task` should use: the named one, or the task's default when `nameOrAlias` is undefined.
   * Throws ServiceError MODEL_NOT_FOUND (with `details.suggestions`: the closest names), WRONG_TASK, or
   * MODEL_NOT_INSTALLED (with `details.installCommand`).
   */
  resolve(nameOrAlias: string | undefined, task: Task): VariantInfo;
  /** The variant's backend, loading it on first use (single-flight). Throws MODEL_LOAD_FAILED. */
  acquire(name: string): Promise<ModelBackend>;
  /** Like acquire, but holds the backend until `release()`: a leased variant is never evicted or unloaded. */
  lease(name: string): Promise<Lease>;
  /** Stops every backend. */
  close(): Promise<void>;
}

/** The registry operations an operator may call at run time (the admin mutations, PRELOAD_MODELS, /readyz). */
export interface ManagedRegistry extends ModelRegistry {
  load(nameOrAlias: string): Promise<VariantInfo>;
  unload(nameOrAlias: string): Promise<VariantInfo>;
  pin(nameOrAlias: string, pinned: boolean): VariantInfo;
  rescan(): Promise<RescanResult>;
  memory(): { budgetBytes: number; usedBytes: number };
}
