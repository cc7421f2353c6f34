import type { Precision, Task } from '../variant/manifest.ts';
import type { EventStream } from './event-stream.ts';
import type { BackendItem } from './events.ts';
import type { SerializedError } from './items.ts';

export type { BackendEvent, BackendItem, TokenEvent } from './events.ts';

/**
 * The seam between the server and whatever computes: the registry leases a ModelBackend per loaded variant and the
 * gateway submits items to it. The worker-thread ONNX backend (`worker/worker-backend.ts`) is one implementation;
 * anything that can turn an item into these events (another precision, a remote server, an in-memory fake for
 * gateway tests) is another. Nothing above this interface knows about model families, ONNX or threads.
 */
export interface ModelBackend {
  /** Who the backend serves: enough for the gateway to label results and for the registry to check what it loaded. */
  readonly variant: BackendVariant;
  /**
   * Queues one item; its events arrive on the returned stream, which always ends with `done` or `error`. Never throws:
   * a failure is an `error` event. Aborting `controls.signal` makes the item leave at the next decode step and end
   * with an error carrying the signal's reason (see `item-signal.ts`).
   */
  submit(item: BackendItem, controls?: SubmitControls): EventStream;
  /**
   * Items that arrived together (a DataLoader batch): the backend runs one encoder pass for their distinct images
   * (less embedding-cache hits), then their rows join the running decode batch. One stream per item, in order.
   */
  submitGroup(items: ReadonlyArray<{ item: BackendItem; controls?: SubmitControls }>): EventStream[];
  stats(): Promise<BackendStats>;
  /** Stops the backend; items still in flight end with INFERENCE_FAILED. Idempotent. */
  close(): Promise<void>;
  /** Called once when the backend stops, by itself (a crashed worker) or after `close()`; owners tell the two apart. */
  onFailure(listener: (error: SerializedError) => void): void;
}

export interface BackendVariant {
  name: string;
  family: string;
  task: Task;
  precision: Precision;
}

export interface SubmitControls {
  /**
   * Leaving: the client went away or the deadline passed. The reason (a ServiceError or a SerializedError) becomes the
   * item's error. The deadline is enforced through this signal alone: build it with `itemSignal()`.
   */
  signal?: AbortSignal;
  /** Send a `token` event after every decode step (streaming clients); others get only the lifecycle events. */
  stream?: boolean;
}

export interface BackendStats {
  /** Items waiting for admission. */
  queued: number;
  /** Items in the running decode batch. */
  running: number;
  /** Decoder rows fed by the last decode step. */
  rows: number;
  /** The image-embedding cache (zeros for a backend without one). */
  cache: { hits: number; misses: number; evictions: number; bytes: number; entries: number; maxBytes: number };
  /** ONNX backends: whether the sessions came from saved optimized graphs or from the originals (README "Cold start"). */
  loadedFrom?: 'optimized' | 'original';
}
