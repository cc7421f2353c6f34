import type { VariantManifest } from '../../variant/manifest.ts';
import type { AnswerItem, CaptionItem, ItemResult, PipelineOptions, SerializedError } from '../pipeline.ts';

/** Messages between the server thread and an inference worker. Every request carries an id its reply echoes. */
export interface WorkerData {
  variantDir: string;
  options: PipelineOptions;
}

export type WorkerRequest = { id: number; method: 'caption'; items: CaptionItem[] } | { id: number; method: 'answer'; items: AnswerItem[] };

export type WorkerMessage =
  | { type: 'ready'; manifest: VariantManifest }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'result'; id: number; results: ItemResult[] }
  | { type: 'failed'; id: number; error: SerializedError };
