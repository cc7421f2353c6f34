import { ErrorCode, ServiceError } from '../errors.ts';

export interface Hypothesis {
  /** Length-normalised score: `sum_logprobs / generated_len ** length_penalty`. */
  readonly score: number;
  /** The sequence, prompt included, WITHOUT the eos that finished it. */
  readonly tokens: Int32Array;
}

/**
 * The n-best list of finished hypotheses of one request: transformers 4.36.2 `generation/beam_search.py`
 * `BeamHypotheses` (`add`, `is_done`) and the selection in `BeamSearchScorer.finalize`. Scores are Python floats
 * there (float64), computed from float32 beam scores; so here.
 */
export class BeamHypotheses {
  private readonly beams: Hypothesis[] = [];
  private worstScore = 1e9;

  constructor(
    private readonly numBeams: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: boolean | 'never',
    private readonly maxLength: number,
  ) {}

  get size(): number {
    return this.beams.length;
  }

  /**
   * Offers a hypothesis. 4.36 normalises by `generated_len`, the number of generated tokens it was scored on: for an
   * eos candidate that is `cur_len - prompt_len` with `cur_len = input_ids.shape[-1] + 1` (the eos counts), for an
   * open beam at finalize `len(tokens) - prompt_len`. When the list overflows, the lowest score leaves (the earliest
   * added on ties: Python sorts `(score, index)` pairs) and the worst score becomes the second lowest.
   */
  add(tokens: Int32Array, sumLogprobs: number, generatedLength: number): void {
    const score = sumLogprobs / generatedLength ** this.lengthPenalty;
    if (this.beams.length >= this.numBeams && !(score > this.worstScore)) return;
    this.beams.push({ score, tokens });
    if (this.beams.length > this.numBeams) {
      let lowest = 0;
      for (let i = 1; i < this.beams.length; i++) if (this.beams[i].score < this.beams[lowest].score) lowest = i;
      this.beams.splice(lowest, 1);
      let worst = Infinity;
      for (const beam of this.beams) if (beam.score < worst) worst = beam.score;
      this.worstScore = worst;
    } else {
      this.worstScore = Math.min(score, this.worstScore);
    }
  }

  /**
   * `BeamHypotheses.is_done(best_sum_logprobs, cur_len, decoder_prompt_len)`: `bestSumLogprobs` is the best
   * candidate score of the step, `currentLength` the length those candidates reach (`input_ids.shape[-1] + 1`).
   */
  isDone(bestSumLogprobs: number, currentLength: number, promptLength: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const lp = this.lengthPenalty;
    if (this.earlyStopping === 'never' && lp > 0) {
      // transformers raises ValueError here; generate() rejects such requests before decoding (see search-plan.ts).
      if (this.maxLength <= promptLength) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `maxLength (${this.maxLength}) must exceed the prompt length (${promptLength}) when earlyStopping is 'never'`);
      }
      return this.worstScore >= bestSumLogprobs / (this.maxLength - promptLength) ** lp;
    }
    // early_stopping False (heuristic), or 'never' with length_penalty <= 0: bound from the current length.
    return this.worstScore >= bestSumLogprobs / (currentLength - promptLength) ** lp;
  }

  /**
   * The hypothesis `finalize` returns: `sorted(beams, key=score).pop()`, i.e. the highest score and, among equal
   * highest scores, the one added last (the sort is stable).
   */
  best(): Hypothesis {
    if (this.beams.length === 0) throw new Error('No hypothesis to choose from');
    let best = this.beams[0];
    for (const beam of this.beams) if (beam.score >= best.score) best = beam;
    return best;
  }
}
