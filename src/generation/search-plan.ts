import { ErrorCode, ServiceError } from '../errors.ts';
import type { ProcessorRules } from './logits-processors.ts';
import type { ResolvedGenerationOptions } from './options.ts';

/** One row-set of a `generate` call: a prompt to continue against one encoder context. */
export interface GenerationRequest {
  /** Index of the encoder context (image or question) in the decoder the request runs on. */
  context: number;
  /** Decoder prompt, [DEC] first; HF's dropped trailing [SEP] is already gone. */
  prompt: ReadonlyArray<number>;
  options: ResolvedGenerationOptions;
  /** Stop token ([SEP] for BLIP, which passes `eos_token_id=sep_token_id`). */
  eosTokenId: number;
  /** Kept for parity with HF's signature; a request run alone is never padded, so the search does not use it. */
  padTokenId: number;
}

/** Everything a search needs about one request, lengths made absolute. */
export interface SearchPlan extends ProcessorRules {
  readonly context: number;
  readonly prompt: ReadonlyArray<number>;
  /** `max_length` after `max_new_tokens` was applied (generate() step 6). */
  readonly maxLength: number;
  /** Room for the longest sequence: HF always generates at least one token, even when the prompt reaches maxLength. */
  readonly capacity: number;
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean | 'never';
}

/**
 * Validates a request against the decoder and derives its plan. Malformed ids are programming errors (RangeError);
 * length combinations a client chose are `ServiceError(BAD_USER_INPUT)`. Call it per request before batching to keep
 * one bad request from failing a batch; `generate` calls it again.
 */
export function planSearch(request: GenerationRequest, vocabSize: number): SearchPlan {
  const { prompt, options, eosTokenId, context } = request;
  if (!Number.isInteger(context) || context < 0) throw new RangeError(`Expected a context index but received ${context}`);
  if (prompt.length === 0) throw new RangeError('Expected a prompt of at least one token ([DEC]) but received none');
  for (const id of prompt) checkTokenId(id, vocabSize, 'prompt token');
  checkTokenId(eosTokenId, vocabSize, 'eosTokenId');
  if (vocabSize < 2) throw new RangeError(`Expected a vocabulary of at least 2 tokens but received ${vocabSize}`);

  const promptLength = prompt.length;
  const { maxPositions } = options;
  // transformers 4.36 generate(): `max_length = max_new_tokens + input_ids_length` when max_new_tokens is set.
  const maxLength = options.maxNewTokens === undefined ? options.maxLength : promptLength + options.maxNewTokens;
  if (promptLength >= maxPositions) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected a prompt of at most ${maxPositions - 1} tokens but received ${promptLength}`);
  }
  if (maxLength > maxPositions && options.maxNewTokens !== undefined) {
    throw new ServiceError(
      ErrorCode.BAD_USER_INPUT,
      `Expected integer 1..${maxPositions - promptLength} for maxNewTokens with a ${promptLength}-token prompt but received ${options.maxNewTokens}`,
      { details: { option: 'maxNewTokens' } },
    );
  }
  if (options.numBeams > 1 && options.earlyStopping === 'never' && options.lengthPenalty > 0 && maxLength <= promptLength) {
    // BeamHypotheses.is_done raises "max_length is not larger than decoder prompt length" in this configuration.
    throw new ServiceError(
      ErrorCode.BAD_USER_INPUT,
      `Expected maxLength above the prompt length (${promptLength}) with earlyStopping 'never' but received ${maxLength}`,
      { details: { option: 'maxLength' } },
    );
  }
  return {
    context,
    prompt,
    promptLength,
    maxLength,
    capacity: Math.max(maxLength, promptLength + 1),
    minLength: options.minLength,
    minNewTokens: options.minNewTokens,
    repetitionPenalty: options.repetitionPenalty,
    eosTokenId,
    numBeams: options.numBeams,
    lengthPenalty: options.lengthPenalty,
    earlyStopping: options.earlyStopping,
  };
}

function checkTokenId(id: number, vocabSize: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new RangeError(`Expected ${what} in 0..${vocabSize - 1} but received ${id}`);
  }
}
