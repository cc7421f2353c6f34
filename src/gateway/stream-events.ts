import type { ServedResult } from '../batching/types.ts';

/**
 * What a streamed caption or answer sends its client: the text decoded so far after each decode step, then one last
 * event with the served result. `text` is always the whole text so far; `delta` is what this event added to the
 * previous event's `text` (it can be empty, and after a beam-search step the best hypothesis may change, so a client
 * shows `text` rather than appending deltas).
 */
export type StreamEvent =
  | { done: false; text: string; delta: string }
  | { done: true; text: string; delta: string; result: ServedResult };
