import type { VariantManifest } from '../../variant/manifest.ts';
import type { RuntimeOptions } from '../../models/family.ts';
import type { BackendEvent, BackendItem, BackendStats } from '../model-backend.ts';
import type { SerializedError } from '../items.ts';

/** Messages between the server thread and an inference worker. Every item carries an id its events echo. */
export interface WorkerData {
  variantDir: string;
  options: RuntimeOptions;
}

/**
 * The first message a spare worker (started with no WorkerData, see spare-worker.ts) receives: the variant to load,
 * or to exit unused.
 */
export type WorkerAssignment = { type: 'load'; data: WorkerData } | { type: 'stop' };

export type Submission = BackendItem & { id: number; stream: boolean };

export type WorkerRequest =
  /** Items that arrived together: one group, one encoder pass (an image shared by two of them is transferred once). */
  | { type: 'submit'; submissions: Submission[] }
  /** The item leaves the batch at the next step and ends with `reason` (its client went away, or its deadline passed). */
  | { type: 'cancel'; id: number; reason: SerializedError }
  | { type: 'stats'; id: number }
  /** Exit between two model calls (see WorkerBackend.close). */
  | { type: 'stop' };

export type WorkerMessage =
  /** `warnings`: what the load reported without failing, for the server's log. */
  | { type: 'ready'; manifest: VariantManifest; warnings: string[] }
  | { type: 'load-failed'; error: SerializedError }
  /** A spare worker has imported its modules and waits for its variant (spare-worker.ts); ignored by a load. */
  | { type: 'spare-ready' }
  /** Every event the engine emitted since the last message (one message per decode step at most). */
  | { type: 'events'; events: Array<{ id: number; event: BackendEvent }> }
  | { type: 'stats'; id: number; stats: BackendStats };
