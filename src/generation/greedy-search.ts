import { applyLogitsProcessors, argmax } from './logits-processors.ts';
import type { NextRows, RowSearch, SearchWorkspace } from './row-search.ts';
import type { SearchPlan } from './search-plan.ts';

/**
 * transformers 4.36.2 `GenerationMixin.greedy_search` for one request run alone: processors on the raw last-position
 * logits, `argmax` (first index on ties), append; finished after emitting eos, or once the sequence reaches
 * `max_length` (MaxLengthCriteria: `cur_len >= max_length`, checked after appending, so at least one token is always
 * generated). The single row leaves the decoder when it finishes.
 */
export class GreedySearch implements RowSearch {
  private readonly sequence: Int32Array;
  private length: number;
  /** This request's row in the logits of the current step. */
  private row: number;

  constructor(
    private readonly plan: SearchPlan,
    private readonly workspace: SearchWorkspace,
    startRow: number,
  ) {
    this.sequence = new Int32Array(plan.capacity);
    this.sequence.set(plan.prompt);
    this.length = plan.promptLength;
    this.row = startRow;
  }

  advance(logits: Float32Array, next: NextRows): boolean {
    const { plan, workspace } = this;
    const { scores, vocabSize } = workspace;
    scores.set(logits.subarray(this.row * vocabSize, (this.row + 1) * vocabSize));
    applyLogitsProcessors(scores, this.sequence, 0, this.length, plan, workspace.marks);
    const token = argmax(scores, vocabSize);
    this.sequence[this.length++] = token;
    if (token === plan.eosTokenId || this.length >= plan.maxLength) return true;
    const parent = this.row;
    this.row = next.parents.length;
    next.parents.push(parent);
    next.tokens.push(token);
    return false;
  }

  result(): number[] {
    return Array.from(this.sequence.subarray(0, this.length));
  }
}
