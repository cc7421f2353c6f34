import { BeamHypotheses } from './beam-hypotheses.ts';
import { applyLogitsProcessors, logSoftmaxInto } from './logits-processors.ts';
import type { NextRows, RowSearch, SearchWorkspace } from './row-search.ts';
import type { SearchPlan } from './search-plan.ts';
import { TopCandidates } from './top-candidates.ts';

/**
 * transformers 4.36.2 `GenerationMixin.beam_search` with `BeamSearchScorer` for one request run alone
 * (batch_size 1, num_beam_groups 1, one eos id). Per step:
 *   1. `log_softmax` of each beam's logits (float32), then the logits processors on those log-probabilities;
 *   2. add the beam's running score (float32; initially 0 for beam 0 and -1e9 for the others, so the identical
 *      copies of the prompt do not produce the same candidates k times);
 *   3. top `2 * num_beams` over all `num_beams * vocab` scores;
 *   4. `BeamSearchScorer.process`: in rank order, an eos candidate ranked below `num_beams` becomes a finished
 *      hypothesis (its tokens exclude the eos; generated_len = cur_len - prompt_len with cur_len counting the eos),
 *      an eos ranked lower is dropped, any other token fills the next beam until `num_beams` beams are filled; then
 *      `is_done(best candidate score, cur_len, prompt_len)`;
 *   5. stop when done or when the sequences reach `max_length`; `finalize` then adds the open beams (unless done)
 *      and returns the best hypothesis, with eos appended when it is shorter than `max_length`.
 *
 * At the first step every beam is the prompt itself, so the decoder runs the prompt once and the first `next` call
 * duplicates that row into the beams (the decoder computes identical logits for identical rows, as torch does for
 * HF's `num_beams` expanded copies).
 */
export class BeamSearch implements RowSearch {
  private readonly numBeams: number;
  private sequences: Int32Array;
  private nextSequences: Int32Array;
  private length: number;
  private readonly beamScores: Float32Array;
  /** Row of each beam in the current logits; all beams share one row at the first step. */
  private readonly rows: Int32Array;
  private readonly parentRows: Int32Array;
  private readonly chosenParents: Int32Array;
  private readonly chosenTokens: Int32Array;
  private readonly chosenScores: Float32Array;
  private readonly candidates: TopCandidates;
  private readonly hypotheses: BeamHypotheses;
  private firstStep = true;

  constructor(
    private readonly plan: SearchPlan,
    private readonly workspace: SearchWorkspace,
    startRow: number,
  ) {
    const k = plan.numBeams;
    this.numBeams = k;
    this.sequences = new Int32Array(k * plan.capacity);
    this.nextSequences = new Int32Array(k * plan.capacity);
    for (let b = 0; b < k; b++) this.sequences.set(plan.prompt, b * plan.capacity);
    this.length = plan.promptLength;
    this.beamScores = new Float32Array(k).fill(-1e9);
    this.beamScores[0] = 0;
    this.rows = new Int32Array(k).fill(startRow);
    this.parentRows = new Int32Array(k);
    this.chosenParents = new Int32Array(k);
    this.chosenTokens = new Int32Array(k);
    this.chosenScores = new Float32Array(k);
    this.candidates = new TopCandidates(2 * k);
    this.hypotheses = new BeamHypotheses(k, plan.lengthPenalty, plan.earlyStopping, plan.maxLength);
  }

  advance(logits: Float32Array, next: NextRows): boolean {
    this.selectCandidates(logits);
    const done = this.process();
    this.extendBeams();
    if (done) return true;
    if (this.length >= this.plan.maxLength) {
      this.addOpenBeams();
      return true;
    }
    for (let b = 0; b < this.numBeams; b++) {
      this.rows[b] = next.parents.length;
      next.parents.push(this.parentRows[b]);
      next.tokens.push(this.chosenTokens[b]);
    }
    return false;
  }

  result(): number[] {
    const best = this.hypotheses.best();
    const out = Array.from(best.tokens);
    // finalize: eos goes after the best hypothesis if it fits, i.e. when the hypothesis is shorter than max_length.
    if (out.length < this.plan.maxLength) out.push(this.plan.eosTokenId);
    return out;
  }

  /** Steps 1–3: processed log-probabilities plus beam scores, top `2 * num_beams` in flat (beam, token) order. */
  private selectCandidates(logits: Float32Array): void {
    const { plan, workspace, candidates, numBeams, beamScores, sequences, length } = this;
    const { scores, vocabSize } = workspace;
    candidates.reset();
    for (let b = 0; b < numBeams; b++) {
      // At the first step all beams hold the same prompt in the same row: their processed scores are identical.
      if (b === 0 || !this.firstStep) {
        logSoftmaxInto(logits, this.rows[b] * vocabSize, vocabSize, scores);
        applyLogitsProcessors(scores, sequences, b * plan.capacity, length, plan, workspace.marks);
      }
      const beamScore = beamScores[b];
      for (let token = 0; token < vocabSize; token++) {
        candidates.offer(Math.fround(scores[token] + beamScore), b, token);
      }
    }
  }

  /** Step 4, `BeamSearchScorer.process`; returns `is_done`. */
  private process(): boolean {
    const { plan, candidates, numBeams, length } = this;
    const currentLength = length + 1; // 4.36: "add up to the length which the next_scores is calculated on"
    let filled = 0;
    for (let rank = 0; rank < candidates.size && filled < numBeams; rank++) {
      const beam = candidates.beams[rank];
      const token = candidates.tokens[rank];
      if (token === plan.eosTokenId) {
        if (rank >= numBeams) continue;
        const start = beam * plan.capacity;
        this.hypotheses.add(this.sequences.slice(start, start + length), candidates.scores[rank], currentLength - plan.promptLength);
      } else {
        this.chosenParents[filled] = beam;
        this.chosenTokens[filled] = token;
        this.chosenScores[filled] = candidates.scores[rank];
        filled++;
      }
    }
    if (filled < numBeams) throw new Error(`Beam search filled ${filled} of ${numBeams} beams`);
    return this.hypotheses.isDone(candidates.scores[0], currentLength, plan.promptLength);
  }

  /** Reorders the beams as chosen and appends their tokens (HF: `input_ids[beam_idx, :]` + `beam_next_tokens`). */
  private extendBeams(): void {
    const { plan, numBeams, length, sequences, nextSequences } = this;
    const capacity = plan.capacity;
    for (let b = 0; b < numBeams; b++) {
      const parent = this.chosenParents[b];
      nextSequences.set(sequences.subarray(parent * capacity, parent * capacity + length), b * capacity);
      nextSequences[b * capacity + length] = this.chosenTokens[b];
      this.parentRows[b] = this.rows[parent];
    }
    this.sequences = nextSequences;
    this.nextSequences = sequences;
    this.beamScores.set(this.chosenScores);
    this.length = length + 1;
    this.firstStep = false;
  }

  /** `finalize` for a request that is not done: every open beam becomes a hypothesis with its running score. */
  private addOpenBeams(): void {
    const { plan, length } = this;
    for (let b = 0; b < this.numBeams; b++) {
      const start = b * plan.capacity;
      this.hypotheses.add(this.sequences.slice(start, start + length), this.beamScores[b], length - plan.promptLength);
    }
  }
}
