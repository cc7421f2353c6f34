import type { GenerationOptions } from '../generation/generate.ts';
import type { Timings } from '../backend/items.ts';
import type { TokenEvent } from '../backend/model-backend.ts';
import type { VariantInfo } from '../registry/types.ts';

/**
 * What the gateway asks of the serving engine, for a variant it already resolved (the gateway owns resolution, the
 * task check and the text checks). Every call is one item; concurrent items for the same variant are combined into
 * batched encoder passes. Errors are thrown as ServiceError with a stable code.
 */
export interface InferenceCall {
  variant: VariantInfo;
  kind: 'caption' | 'answer';
  /** Encoded image. Ownership passes to the service: the buffer is transferred to the worker (detached here). */
  image: Uint8Array;
  /** Caption prompt, or the question. */
  text?: string;
  options?: GenerationOptions;
  /** Aborts the item (client disconnected). */
  signal?: AbortSignal;
  /** Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds. */
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
  /** The most decoder rows (all requests' beams) of any decode step this item took part in. */
  batchSize: number;
  /** Images the vision encoder ran on in the encoder pass that admitted this item (0 when its embedding was cached). */
  encoderBatch: number;
  /** Prompt tokens fed to the decoder and tokens generated, counted by the engine. */
  tokens: { prompt: number; generated: number };
}

/** A streamed item: the text so far after each decode step, then the result. */
export type ServedEvent = TokenEvent | { type: 'done'; result: ServedResult } | { type: 'error'; error: Error };

export interface InferenceService {
  /** Items accepted and not finished (queued or computing), per variant that has received any. */
  queueDepths(): Record<string, number>;
  run(call: InferenceCall): Promise<ServedResult>;
  /** The same item, streamed; leaving the loop early (or aborting `call.signal`) cancels it. */
  stream(call: InferenceCall): AsyncIterable<ServedEvent>;
}
