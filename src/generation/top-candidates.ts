/**
 * The `2 * num_beams` best (beam, token) candidates of one beam-search step, what transformers gets from
 * `torch.topk(scores.view(batch, num_beams * vocab), 2 * num_beams, largest=True, sorted=True)`.
 *
 * Selection is a bounded insertion into a small sorted buffer, so a step costs one comparison per vocabulary entry
 * and never sorts the vocabulary. Order: higher score first; equal scores keep the order in which they were offered.
 * Callers offer in increasing flat index (`beam * vocab + token`), so ties go to the lower flat index. torch's CPU
 * topk does not document its tie order; real logits essentially never tie (see the report).
 */
export class TopCandidates {
  readonly scores: Float64Array;
  readonly beams: Int32Array;
  readonly tokens: Int32Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.scores = new Float64Array(capacity);
    this.beams = new Int32Array(capacity);
    this.tokens = new Int32Array(capacity);
  }

  reset(): void {
    this.size = 0;
  }

  /** Keeps the candidate if it ranks among the best `capacity` offered since `reset`. */
  offer(score: number, beam: number, token: number): void {
    const { scores, beams, tokens } = this;
    let n = this.size;
    if (n === this.capacity) {
      // Not strictly better than the current last: an equal score offered later ranks after it.
      if (!(score > scores[n - 1])) return;
      n--;
    }
    let i = n;
    while (i > 0 && scores[i - 1] < score) {
      scores[i] = scores[i - 1];
      beams[i] = beams[i - 1];
      tokens[i] = tokens[i - 1];
      i--;
    }
    scores[i] = score;
    beams[i] = beam;
    tokens[i] = token;
    this.size = n + 1;
  }
}
