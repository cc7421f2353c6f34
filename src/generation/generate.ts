import { GenerationSession } from './generation-session.ts';
import { planSearch, type GenerationRequest } from './search-plan.ts';
import type { TokenDecoder } from './token-decoder.ts';

// The generation API in one import: options (client-facing), requests, the search itself and its steppable form.
export {
  resolveGenerationOptions,
  type GenerationDefaults,
  type GenerationLimits,
  type GenerationOptions,
  type ResolvedGenerationOptions,
} from './options.ts';
export { planSearch, type GenerationRequest, type SearchPlan } from './search-plan.ts';
export { GenerationSession, type FinishedRequest } from './generation-session.ts';

/**
 * Runs every request's search (greedy when `numBeams` is 1, beam search otherwise) over one decoder, all live rows of
 * all requests sharing each decoder call. Returns, per request, what transformers 4.36.2 `generate` returns for that
 * request run alone: prompt ([DEC] included), generated ids, and the eos if one was produced; never padding.
 *
 * Requests are independent: each search only reads its own rows, and a finished request's rows leave the decoder.
 * The decoder is not disposed here (its owner created it for these contexts). This is a `GenerationSession` whose
 * requests all join at the first step.
 */
export async function generate(decoder: TokenDecoder, requests: ReadonlyArray<GenerationRequest>): Promise<number[][]> {
  // Validate every request before the first decoder call, so one bad request throws before any work.
  for (const request of requests) planSearch(request, decoder.vocabSize);
  const session = new GenerationSession<number>(decoder);
  requests.forEach((request, index) => session.add(index, request));
  const results: number[][] = new Array(requests.length);
  while (session.size > 0) {
    for (const { key, sequence } of await session.step()) results[key] = sequence;
  }
  return results;
}
