import type { AnswerItem, CaptionItem, GenerationOutput, SerializedError } from './items.ts';

/** One item for a backend: a caption or a question, with its image and options. */
export type BackendItem = { kind: 'caption'; item: CaptionItem } | { kind: 'answer'; item: AnswerItem };

/**
 * What happens to one item, in order: `admitted` (it left the queue for an encoder pass), `encoded` (its encoder pass
 * finished; its rows join the decode batch), `token` after each decode step if it asked to stream, then `done` or
 * `error`. An item that fails before admission goes straight to `error`.
 */
export type BackendEvent =
  | { type: 'admitted'; queueMs: number }
  /** `pass` numbers the backend's encoder passes; `encoderBatch` is how many images its vision encoder ran on. */
  | { type: 'encoded'; pass: number; preprocessMs: number; encodeMs: number; encoderBatch: number; cacheHit: boolean }
  | TokenEvent
  | { type: 'done'; output: GenerationOutput }
  | { type: 'error'; error: SerializedError };

/**
 * The text decoded so far (for beam search, the best open hypothesis) after a decode step. Each event carries the
 * whole text, so a consumer that falls behind loses nothing by seeing only the latest one (events are coalesced).
 */
export interface TokenEvent {
  type: 'token';
  text: string;
  /** Tokens generated so far. */
  generated: number;
}
