import type { GenerationOptions } from '../generation/generate.ts';
import type { Timings } from '../models/blip/runtime/pipeline.ts';

/**
 * What the GraphQL layer asks of the serving engine. Every call is one item; the engine combines concurrent items
 * for the same variant into batched model passes. Errors are thrown as ServiceError with a stable code.
 */
export interface CaptionRequest {
  /** Variant name or alias; undefined = the default caption variant. */
  model?: string;
  /** Encoded image. Ownership passes to the service: the buffer is transferred to the worker (detached here). */
  image: Uint8Array;
  prompt?: string;
  options?: GenerationOptions;
  /** Aborts the request (client disconnected). */
  signal?: AbortSignal;
  /** Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds. */
  timeoutMs?: number;
}

export interface AnswerRequest {
  model?: string;
  image: Uint8Array;
  question: string;
  options?: GenerationOptions;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ServedResult {
  text: string;
  sequence: number[];
  /** The variant's canonical name (even when the request used an alias). */
  variant: string;
  timings: Timings & { queueMs: number };
  /** Whether the image embedding came from the worker's cache (the vision encoder did not run for this request). */
  cacheHit: boolean;
  /** How many items shared the model pass that produced this result. */
  batchSize: number;
}

export interface InferenceService {
  /** Requests accepted and not finished (queued or computing), per variant that has received any. */
  queueDepths(): Record<string, number>;
  caption(request: CaptionRequest): Promise<ServedResult>;
  answer(request: AnswerRequest): Promise<ServedResult>;
}
