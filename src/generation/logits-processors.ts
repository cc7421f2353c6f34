/**
 * The logits processors transformers 4.36.2 builds for our options (`GenerationMixin._get_logits_processor`, in that
 * order): RepetitionPenaltyLogitsProcessor, MinLengthLogitsProcessor, MinNewTokensLengthLogitsProcessor; plus the
 * float32 log-softmax beam search applies before them. Everything works in place on one row of scores held in a
 * Float32Array, so every store rounds to float32 like the torch tensors do.
 */

/** What the processors need to know about one request. */
export interface ProcessorRules {
  readonly promptLength: number;
  readonly minLength: number;
  readonly minNewTokens: number;
  readonly repetitionPenalty: number;
  readonly eosTokenId: number;
}

/**
 * Applies the processors to `scores` for a row whose current sequence is `sequence[0, length)` (prompt and [DEC]
 * included), i.e. before the token about to be chosen is appended.
 */
export function applyLogitsProcessors(
  scores: Float32Array,
  sequence: Int32Array,
  start: number,
  length: number,
  rules: ProcessorRules,
  marks: TokenMarks,
): void {
  if (rules.repetitionPenalty !== 1) applyRepetitionPenalty(scores, sequence, start, length, rules.repetitionPenalty, marks);
  if (eosBanned(length, rules)) scores[rules.eosTokenId] = -Infinity;
}

/**
 * MinLengthLogitsProcessor bans eos while `cur_len < min_length`, MinNewTokensLengthLogitsProcessor while
 * `cur_len - prompt_len < min_new_tokens`; `cur_len` is `input_ids.shape[-1]`, the length before the new token.
 */
export function eosBanned(length: number, rules: ProcessorRules): boolean {
  return length < rules.minLength || length - rules.promptLength < rules.minNewTokens;
}

/**
 * RepetitionPenaltyLogitsProcessor: every id present in the sequence, counted once however often it occurs (torch
 * gathers all old values before scattering), becomes `score * p` when negative and `score / p` otherwise. torch
 * casts the Python float `p` to the tensor's float32 before the element-wise op; so do we.
 */
export function applyRepetitionPenalty(
  scores: Float32Array,
  sequence: Int32Array,
  start: number,
  length: number,
  penalty: number,
  marks: TokenMarks,
): void {
  const p = Math.fround(penalty);
  marks.clear();
  for (let i = start; i < start + length; i++) {
    const id = sequence[i];
    if (!marks.add(id)) continue;
    const score = scores[id];
    scores[id] = score < 0 ? score * p : score / p;
  }
}

/**
 * `torch.nn.functional.log_softmax` of one float32 row, in torch's CPU order of operations: `(x - max) - log(sum)`,
 * each step rounded to float32. The sum itself is accumulated in float64 here (torch sums float32 SIMD lanes), so the
 * result can differ from torch by an ulp of the log-sum; see the report on parity.
 */
export function logSoftmaxInto(logits: Float32Array, offset: number, size: number, out: Float32Array): void {
  let max = -Infinity;
  for (let i = offset; i < offset + size; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = offset; i < offset + size; i++) sum += Math.exp(Math.fround(logits[i] - max));
  const logSum = Math.fround(Math.log(Math.fround(sum)));
  for (let i = 0; i < size; i++) out[i] = Math.fround(logits[offset + i] - max) - logSum;
}

/** Index of the first maximum, like `torch.argmax` (NaN scores are not special-cased: they never win). */
export function argmax(scores: Float32Array, size: number): number {
  let best = 0;
  let bestScore = scores[0];
  for (let i = 1; i < size; i++) {
    if (scores[i] > bestScore) {
      bestScore = scores[i];
      best = i;
    }
  }
  return best;
}

/** A reusable set of token ids (stamp per id), so deduplicating a sequence allocates nothing. */
export class TokenMarks {
  private readonly stamps: Uint32Array;
  private current = 0;

  constructor(vocabSize: number) {
    this.stamps = new Uint32Array(vocabSize);
  }

  /** Empties the set in O(1). */
  clear(): void {
    this.current++;
    if (this.current === 0xffffffff) {
      this.stamps.fill(0);
      this.current = 1;
    }
  }

  /** Adds `id`; false when it was already in the set. */
  add(id: number): boolean {
    if (this.stamps[id] === this.current) return false;
    this.stamps[id] = this.current;
    return true;
  }
}
