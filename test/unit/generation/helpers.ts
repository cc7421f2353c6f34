import { resolveGenerationOptions, type GenerationDefaults, type GenerationOptions } from '../../../src/generation/options.ts';
import type { GenerationRequest } from '../../../src/generation/search-plan.ts';

/** BLIP's hub defaults (blip-spec.md §5.3). */
export const DEFAULTS: GenerationDefaults = { maxLength: 20, minLength: 0, numBeams: 1, lengthPenalty: 1, repetitionPenalty: 1, earlyStopping: false };
export const LIMITS = { maxPositions: 512, maxBeams: 128 };

/** Token ids of the small hand-made vocabularies: eos ([SEP]) 0, "a" 1, "b" 2, [DEC] 3. */
export const EOS = 0;
export const A = 1;
export const B = 2;
export const DEC = 3;

export function makeRequest(prompt: number[], options: GenerationOptions = {}, context = 0, eosTokenId = EOS): GenerationRequest {
  // padTokenId is outside every test vocabulary: a request run alone is never padded, so it must never show up.
  return { context, prompt, options: resolveGenerationOptions(options, DEFAULTS, LIMITS), eosTokenId, padTokenId: 99 };
}
