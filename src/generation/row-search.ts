import { TokenMarks } from './logits-processors.ts';

/** The rows of the next `TokenDecoder.next` call, filled by every live search in turn. */
export interface NextRows {
  readonly parents: number[];
  readonly tokens: number[];
}

/**
 * One request's search (greedy or beam) as the batch loop drives it. A search knows which rows of the current
 * logits are its own; `advance` reads them, chooses tokens, and queues the rows it continues (their new indices are
 * `next.parents.length` at the time of queueing). Rows it does not queue leave the decoder.
 */
export interface RowSearch {
  /** Consumes this step's logits; returns true when the search is finished (it then queued nothing). */
  advance(logits: Float32Array, next: NextRows): boolean;
  /** The final sequence: prompt, generated ids, and the eos if one ended it. Valid once `advance` returned true. */
  result(): number[];
}

/** Scratch memory shared by all searches of one `generate` call (they advance one after another). */
export class SearchWorkspace {
  readonly scores: Float32Array;
  readonly marks: TokenMarks;

  constructor(readonly vocabSize: number) {
    this.scores = new Float32Array(vocabSize);
    this.marks = new TokenMarks(vocabSize);
  }
}
