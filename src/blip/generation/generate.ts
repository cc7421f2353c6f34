import { BeamSearch } from './beam-search.ts';
import { GreedySearch } from './greedy-search.ts';
import { SearchWorkspace, type NextRows, type RowSearch } from './row-search.ts';
import { planSearch, type GenerationRequest } from './search-plan.ts';
import type { TokenDecoder } from './token-decoder.ts';

// The generation API in one import: options (client-facing), requests, and the search itself.
export {
  resolveGenerationOptions,
  type GenerationDefaults,
  type GenerationLimits,
  type GenerationOptions,
  type ResolvedGenerationOptions,
} from './options.ts';
export { planSearch, type GenerationRequest, type SearchPlan } from './search-plan.ts';

/**
 * Runs every request's search (greedy when `numBeams` is 1, beam search otherwise) over one decoder, all live rows of
 * all requests sharing each decoder call. Returns, per request, what transformers 4.36.2 `generate` returns for that
 * request run alone: prompt ([DEC] included), generated ids, and the eos if one was produced; never padding.
 *
 * Requests are independent: each search only reads its own rows, and a finished request's rows leave the decoder.
 * The decoder is not disposed here (its owner created it for these contexts).
 */
export async function generate(decoder: TokenDecoder, requests: ReadonlyArray<GenerationRequest>): Promise<number[][]> {
  const vocabSize = decoder.vocabSize;
  const plans = requests.map((request) => planSearch(request, vocabSize));
  if (plans.length === 0) return [];

  const workspace = new SearchWorkspace(vocabSize);
  const searches: RowSearch[] = plans.map((plan, row) =>
    plan.numBeams > 1 ? new BeamSearch(plan, workspace, row) : new GreedySearch(plan, workspace, row),
  );
  const results: number[][] = new Array(plans.length);

  let logits = await decoder.start(plans.map((plan) => ({ context: plan.context, tokens: plan.prompt })));
  let rowCount = plans.length;
  let live = searches.map((search, index) => ({ search, index }));
  for (;;) {
    checkLogits(logits, rowCount, vocabSize);
    const next: NextRows = { parents: [], tokens: [] };
    const stillLive: typeof live = [];
    for (const entry of live) {
      if (entry.search.advance(logits, next)) results[entry.index] = entry.search.result();
      else stillLive.push(entry);
    }
    if (stillLive.length === 0) return results;
    live = stillLive;
    rowCount = next.parents.length;
    logits = await decoder.next(next.parents, next.tokens);
  }
}

// Private: a decoder that returns the wrong amount of logits would otherwise make searches read other rows.
function checkLogits(logits: Float32Array, rows: number, vocabSize: number): void {
  if (logits.length !== rows * vocabSize) {
    throw new Error(`Decoder returned ${logits.length} logits for ${rows} rows of ${vocabSize}`);
  }
}
