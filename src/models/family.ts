import type { BackendEvent, BackendItem, BackendStats } from '../backend/model-backend.ts';
import type { ImageLimits } from '../image/decode.ts';
import type { SessionOptions } from '../runtime/onnx-session.ts';
import type { VariantManifest } from '../variant/manifest.ts';

/**
 * What a model family provides to the serving side: a runtime that loads a converted variant folder and turns items
 * into backend events. A family lives in its own folder (`src/models/<family>/`) and is registered in `families.ts`;
 * nothing outside that folder knows its graphs, tokenizer or preprocessing.
 */
export interface ModelFamily {
  /** The `family` field of the manifests it serves. */
  name: string;
  /** `onWarning`: problems that do not stop the load but belong in the log (a slow fallback, say). */
  loadRuntime(dir: string, options: RuntimeOptions, onWarning?: (message: string) => void): Promise<FamilyRuntime>;
  /**
   * The most memory a loaded variant uses beyond its weights, given its manifest and the settings its runtime gets
   * (defaults applied as the runtime applies them). The memory budget counts weights plus this bound, so the runtime
   * must never exceed it whatever the load: its settings are what bounds it.
   */
  workingMemory(manifest: VariantManifest, settings: WorkingMemorySettings): WorkingMemory;
}

/** The runtime settings a working-memory bound depends on. */
export type WorkingMemorySettings = Pick<RuntimeOptions, 'maxRows' | 'maxAdmitPerStep' | 'maxVisionBatch' | 'embeddingCacheBytes'> & {
  /** The most items one submitted group holds (the gateway's DataLoader `batching.maxBatchSize`): admitted whole. */
  maxGroupItems?: number;
};

export interface WorkingMemory {
  totalBytes: number;
  /** The bound's terms by name (family-specific), summing to `totalBytes`: for reports and error details. */
  parts: Readonly<Record<string, number>>;
}

/** Settings every family's runtime takes (the registry passes them; a family may ignore what does not apply). */
export interface RuntimeOptions extends SessionOptions {
  imageLimits: ImageLimits;
  /** Apply the EXIF orientation before preprocessing (what a person sees). */
  autoOrient?: boolean;
  /** Rows of the running decode batch, beams included; newcomers beyond it wait for rows to leave. */
  maxRows?: number;
  /** Items encoded and admitted between two decode steps at most (a submitted group is never split). */
  maxAdmitPerStep?: number;
  /** Images one vision encoder run takes at most (an encoder pass with more runs it in chunks): bounds its activations. */
  maxVisionBatch?: number;
  /** Bytes of image embeddings the runtime keeps, least recently used evicted first (0 = off). */
  embeddingCacheBytes?: number;
  /** When waiting items join the running batch (family-specific policy names; the runtime validates them). */
  admission?: string;
}

/** One item for a runtime, with where its events go. */
export type RuntimeItem = BackendItem & {
  signal?: AbortSignal;
  stream?: boolean;
  emit: (event: BackendEvent) => void;
};

/** A loaded variant inside an inference worker (or in-process, for tools and tests). */
export interface FamilyRuntime {
  readonly manifest: VariantManifest;
  /** Items that arrived together: one encoder pass, then they join the decode batch. Events go to each item's `emit`. */
  submitGroup(items: readonly RuntimeItem[]): void;
  stats(): BackendStats;
  release(): Promise<void>;
}
