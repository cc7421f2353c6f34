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
   * row-major `[rows.length, vocabSize]`.
   */
  start(rows: ReadonlyArray<{ context: number; tokens: ReadonlyArray<number> }>): Promise<Float32Array>;

  /**
   * Advances by one token: new row i continues previous row `parents[i]` (rows of the previous call, in order) with
   * token `tokens[i]`. A previous row that no parent names is dropped with its cache; one named twice is duplicated.
   * Returns logits `[parents.length, vocabSize]`.
   */
  next(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>): Promise<Float32Array>;

  /** Frees caches. The decoder cannot be used afterwards. */
  dispose(): void;
}
