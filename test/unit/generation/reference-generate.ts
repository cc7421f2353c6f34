import type { LogitsFunction } from './fake-decoder.ts';

/**
 * A deliberately naive transcription of transformers 4.36.2 `greedy_search` / `beam_search` + `BeamSearchScorer` for
 * ONE request, written without the production code's typed arrays, bounded top-k, row bookkeeping or batching: full
 * sorts, plain arrays, the logits function called directly. It is the oracle the optimised search is compared with.
 * Float32 tensor arithmetic is emulated with Math.fround at the same points torch rounds.
 */
export interface ReferenceOptions {
  maxLength: number; // absolute (max_new_tokens already applied)
  minLength: number;
  minNewTokens: number;
  numBeams: number;
  lengthPenalty: number;
  repetitionPenalty: number;
  earlyStopping: boolean | 'never';
}

const f32 = Math.fround;

export function referenceGenerate(
  logitsOf: LogitsFunction,
  vocabSize: number,
  context: number,
  prompt: readonly number[],
  options: ReferenceOptions,
  eos: number,
): number[] {
  return options.numBeams === 1
    ? referenceGreedy(logitsOf, vocabSize, context, prompt, options, eos)
    : referenceBeam(logitsOf, vocabSize, context, prompt, options, eos);
}

/** RepetitionPenalty → MinLength → MinNewTokens, as `_get_logits_processor` orders them. */
export function referenceProcess(scores: number[], ids: readonly number[], promptLength: number, options: ReferenceOptions, eos: number): number[] {
  const out = scores.slice();
  if (options.repetitionPenalty !== 1) {
    const p = f32(options.repetitionPenalty);
    for (const id of new Set(ids)) out[id] = f32(scores[id] < 0 ? scores[id] * p : scores[id] / p);
  }
  if (ids.length < options.minLength) out[eos] = -Infinity;
  if (ids.length - promptLength < options.minNewTokens) out[eos] = -Infinity;
  return out;
}

export function referenceLogSoftmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const shifted = logits.map((x) => f32(x - max));
  const logSum = f32(Math.log(f32(shifted.reduce((sum, x) => sum + Math.exp(x), 0))));
  return shifted.map((x) => f32(x - logSum));
}

function rowLogits(logitsOf: LogitsFunction, context: number, ids: readonly number[]): number[] {
  return Array.from(logitsOf(context, ids), (x) => f32(x));
}

function referenceGreedy(logitsOf: LogitsFunction, _vocab: number, context: number, prompt: readonly number[], options: ReferenceOptions, eos: number): number[] {
  const ids = [...prompt];
  for (;;) {
    const scores = referenceProcess(rowLogits(logitsOf, context, ids), ids, prompt.length, options, eos);
    const token = scores.indexOf(Math.max(...scores));
    ids.push(token);
    if (token === eos || ids.length >= options.maxLength) return ids;
  }
}

interface Hyp {
  score: number;
  ids: number[];
}

function referenceBeam(logitsOf: LogitsFunction, vocab: number, context: number, prompt: readonly number[], options: ReferenceOptions, eos: number): number[] {
  const k = options.numBeams;
  const lp = options.lengthPenalty;
  const promptLength = prompt.length;
  let beams = Array.from({ length: k }, () => [...prompt]);
  let beamScores = Array.from({ length: k }, (_, b) => (b === 0 ? 0 : f32(-1e9)));
  const hyps: Hyp[] = [];
  let worst = 1e9;
  let done = false;

  const add = (ids: number[], sum: number, generatedLength: number) => {
    const score = sum / generatedLength ** lp;
    if (hyps.length < k || score > worst) {
      hyps.push({ score, ids });
      if (hyps.length > k) {
        const order = hyps.map((h, i) => [h.score, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        hyps.splice(order[0][1], 1);
        worst = order[1][0];
      } else {
        worst = Math.min(score, worst);
      }
    }
  };
  const isDone = (best: number, curLen: number): boolean => {
    if (hyps.length < k) return false;
    if (options.earlyStopping === true) return true;
    if (options.earlyStopping === false) return worst >= best / (curLen - promptLength) ** lp;
    if (lp > 0) return worst >= best / (options.maxLength - promptLength) ** lp;
    return worst >= best / (curLen - promptLength) ** lp;
  };

  for (;;) {
    const candidates: Array<{ score: number; beam: number; token: number }> = [];
    beams.forEach((ids, b) => {
      const logp = referenceProcess(referenceLogSoftmax(rowLogits(logitsOf, context, ids)), ids, promptLength, options, eos);
      for (let v = 0; v < vocab; v++) candidates.push({ score: f32(logp[v] + beamScores[b]), beam: b, token: v });
    });
    // Stable sort by descending score: ties keep flat (beam, token) order.
    const top = candidates.sort((x, y) => y.score - x.score).slice(0, 2 * k);
    const curLen = beams[0].length + 1;
    const nextBeams: number[][] = [];
    const nextScores: number[] = [];
    for (let rank = 0; rank < top.length && nextBeams.length < k; rank++) {
      const c = top[rank];
      if (c.token === eos) {
        if (rank >= k) continue;
        add([...beams[c.beam]], c.score, curLen - promptLength);
      } else {
        nextBeams.push([...beams[c.beam], c.token]);
        nextScores.push(c.score);
      }
    }
    done = isDone(top[0].score, curLen);
    beams = nextBeams;
    beamScores = nextScores;
    if (done || beams[0].length >= options.maxLength) break;
  }
  if (!done) beams.forEach((ids, b) => add(ids, beamScores[b], ids.length - promptLength));
  // sorted(..., key=score) is stable; pop() takes the last of the highest scores.
  const sorted = hyps.map((h, i) => ({ h, i })).sort((x, y) => x.h.score - y.h.score || x.i - y.i);
  const best = sorted[sorted.length - 1].h.ids;
  return best.length < options.maxLength ? [...best, eos] : best;
}
