/**
 * What a search algorithm (greedy, beam) needs from a text decoder, independent of ONNX: feed tokens, get the logits
 * of the last position of every live row. The decoder owns the key/value caches; the algorithm only says which
 * previous row each new row continues (`parents`), which covers greedy (rows finish and leave), beam search
 * (beams are reordered and duplicated) and rows that belong to different requests.
 */
export interface TokenDecoder {
  readonly vocabSize: number;

  /**
   * Starts a decoding: row i reads encoder context `rows[i].context` (an index into the contexts the decoder was
   * created with, e.g. one image or one question) and its prompt `rows[i].tokens` (at least one token, [DEC] first).
   * Rows may have prompts of different lengths. Returns the logits of each row's last prompt position,
   * row-major `[rows.length, vocabSize]`. Rows of an earlier decoding are dropped.
   */
  start(rows: ReadonlyArray<PromptRow>): Promise<Float32Array>;

  /**
   * Advances by one token: new row i continues previous row `parents[i]` (rows of the previous call, in order) with
   * token `tokens[i]`. A previous row that no parent names is dropped with its cache; one named twice is duplicated.
   * Returns logits `[parents.length, vocabSize]`.
   */
  next(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>): Promise<Float32Array>;

  /**
   * `next` and `start` in one call, for continuous batching: rows `0 … parents.length − 1` continue the previous rows
   * as `next(parents, tokens)` says, and rows `parents.length …` start from the prompts of `admitted` as `start` would
   * start them, although their caches are shorter or longer than those of the running rows. Every row computes what
   * it would compute alone. Returns logits `[parents.length + admitted.length, vocabSize]`.
   */
  step(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>, admitted: ReadonlyArray<PromptRow>): Promise<Float32Array>;

  /** Frees caches. The decoder cannot be used afterwards. */
  dispose(): void;
}

/** A row that starts from a prompt: the encoder context it reads and its prompt ([DEC] first, at least one token). */
export interface PromptRow {
  context: number;
  tokens: ReadonlyArray<number>;
}
