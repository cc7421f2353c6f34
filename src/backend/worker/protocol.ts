import type { VariantManifest } from '../../variant/manifest.ts';
import type { EngineStats } from '../../models/blip/engine/serving-engine.ts';
import type { PipelineOptions } from '../../models/blip/runtime/pipeline.ts';
import type { AnswerItem, CaptionItem, ItemResult, SerializedError } from '../items.ts';

/** Messages between the server thread and an inference worker. Every request carries an id its reply echoes. */
export interface WorkerData {
  variantDir: string;
  options: PipelineOptions;
}

/** One request for the worker's engine; `deadline` in epoch milliseconds. */
export type Submission = { id: number; deadline?: number } & ({ kind: 'caption'; item: CaptionItem } | { kind: 'answer'; item: AnswerItem });

export type WorkerRequest =
  /** Requests to queue (one message for several, so an image buffer shared by two of them is transferred once). */
  | { type: 'submit'; submissions: Submission[] }
  /** The request leaves the batch at the next step (its client went away); its result is still sent. */
  | { type: 'cancel'; id: number }
  | { type: 'stats'; id: number }
  /** Exit between two model calls (see BlipWorker.terminate). */
  | { type: 'stop' };

export type WorkerMessage =
  | { type: 'ready'; manifest: VariantManifest }
  | { type: 'load-failed'; error: SerializedError }
  /** The result of submission `id`. */
  | { type: 'result'; id: number; result: ItemResult }
  | { type: 'stats'; id: number; stats: EngineStats };
