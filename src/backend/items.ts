import { ErrorCode, ServiceError } from '../errors.ts';
import type { GenerationOptions } from '../generation/generate.ts';

/** What one caption or VQA request asks for, as it crosses the worker boundary. */
export interface CaptionItem {
  image: Uint8Array;
  prompt?: string;
  options?: GenerationOptions;
}

export interface AnswerItem {
  image: Uint8Array;
  question: string;
  options?: GenerationOptions;
}

export type ItemKind = 'caption' | 'answer';

/**
 * Where a request's time in the inference worker went. The four add up to its time in the worker: preprocessing
 * starts when it arrives, `queueMs` is the wait after that until its admission, `encodeMs` the encoder pass that
 * admitted it (shared with the requests admitted with it), `decodeMs` from its first decoder step to its last.
 */
export interface Timings {
  preprocessMs: number;
  encodeMs: number;
  decodeMs: number;
  /** From arrival in the worker to admission into the running batch, minus `preprocessMs`. */
  queueMs: number;
}

export interface GenerationOutput {
  text: string;
  /** What transformers' generate returns for the row: [DEC], the prompt, generated ids up to the first [SEP]. */
  sequence: number[];
  timings: Timings;
  /** The largest number of decoder rows (beams included) of any decode step this request took part in. */
  batchSize: number;
  /**
   * True when the vision encoder did not run for this request: its image embedding came from the embedding cache, or
   * from an identical image admitted in the same encoder pass.
   */
  cacheHit: boolean;
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** One result per item, in order: a failed item never fails the others. */
export type ItemResult = { ok: true; value: GenerationOutput } | { ok: false; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ServiceError) return { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  const message = error instanceof Error ? error.message : String(error);
  return { code: ErrorCode.INFERENCE_FAILED, message };
}

export function deserializeError(error: SerializedError): ServiceError {
  return new ServiceError(error.code, error.message, { details: error.details });
}

/**
 * The code of a request its client cancelled (the client is gone, so nobody reads it; logs and metrics do). There is
 * no CANCELLED code yet: DEADLINE_EXCEEDED with `details.reason = 'cancelled'` stands in for it.
 */
export const CANCELLED_CODE: ErrorCode = ErrorCode.CANCELLED;

/** Where a request was when it was cancelled or its deadline passed (details.stage); absent when the server side settled it. */
export type RequestStage = 'queue' | 'encode' | 'decode';

export function cancelledError(stage?: RequestStage): SerializedError {
  return { code: CANCELLED_CODE, message: 'The request was cancelled', details: { reason: 'cancelled', ...(stage ? { stage } : {}) } };
}

export function deadlineError(deadline: number, stage?: RequestStage): SerializedError {
  return {
    code: ErrorCode.DEADLINE_EXCEEDED,
    message: 'The request did not finish before its deadline',
    details: { reason: 'deadline', deadline, ...(stage ? { stage } : {}) },
  };
}
