import type { BackendEvent } from '../../../backend/model-backend.ts';
import type { AnswerItem, CaptionItem, ItemKind, RequestStage } from '../../../backend/items.ts';
import type { GenerationRequest } from '../../../generation/generate.ts';

/** One item in the serving engine, from `submit` until it is settled. */
export interface Job {
  kind: ItemKind;
  item: CaptionItem | AnswerItem;
  /** Items submitted together share a group: the engine admits a group whole, in one encoder pass. */
  group: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Wants a `token` event after each decode step. */
  stream: boolean;
  emit: (event: BackendEvent) => void;
  stage: RequestStage;
  done: boolean;
  /** What the decoder needs, but the encoder context. */
  request: Omit<GenerationRequest, 'context'>;
  numBeams: number;
  /** Tokens it may generate at most, and decode steps it took part in so far. */
  maxNewTokens: number;
  steps: number;
  /** VQA: the question's tokens. */
  question: number[] | undefined;
  imageKey: string;
  /** Key of its context in the engine's ContextTable. */
  contextKey: string | undefined;
  /** Whether the request counts in its context's references. */
  attached: boolean;
  cacheHit: boolean;
  arrivedAt: number;
  admittedAt: number;
  preprocessMs: number;
  encodeMs: number;
  /** Distinct images the vision encoder ran on in the pass that admitted it. */
  encoderBatch: number;
  decodeStartedAt: number;
  batchSize: number;
}

/** What `planRequest` decides before an item is queued. */
export type JobPlan = Pick<Job, 'request' | 'numBeams' | 'maxNewTokens' | 'question'>;
