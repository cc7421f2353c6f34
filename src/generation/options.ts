import { ErrorCode, ServiceError } from '../errors.ts';

/**
 * Decoding options a client may pass, named after transformers' `GenerationConfig` fields (camelCase). Lengths count
 * tokens of the decoder sequence, prompt and [DEC] included, exactly as transformers counts them; the `New` variants
 * count generated tokens only. `null` is treated like an absent field (GraphQL passes explicit nulls).
 */
export interface GenerationOptions {
  maxLength?: number | null;
  maxNewTokens?: number | null;
  minLength?: number | null;
  minNewTokens?: number | null;
  numBeams?: number | null;
  lengthPenalty?: number | null;
  repetitionPenalty?: number | null;
  earlyStopping?: boolean | 'never' | null;
}

/** A variant's defaults (transformers 4.36 derives them from `text_config`; see blip-spec.md §5.3). */
export interface GenerationDefaults {
  maxLength: number;
  /** Set only when the variant's generation config sets `max_new_tokens`; it then wins over `maxLength`. */
  maxNewTokens?: number;
  minLength: number;
  numBeams: number;
  lengthPenalty: number;
  repetitionPenalty: number;
  earlyStopping: boolean | 'never';
}

export interface GenerationLimits {
  /** Longest decoder sequence the model can position (text `max_position_embeddings`). */
  maxPositions: number;
  /** Largest `numBeams` this service accepts. */
  maxBeams: number;
}

/** Validated options of one request; `generate` turns them into per-request lengths once it knows the prompt. */
export interface ResolvedGenerationOptions {
  /** Total length cap (prompt included); ignored when `maxNewTokens` is set. */
  readonly maxLength: number;
  /** When set, the cap is prompt length + `maxNewTokens` (transformers: it takes precedence over `max_length`). */
  readonly maxNewTokens: number | undefined;
  /** [SEP] is banned while the sequence (prompt included) is shorter than this. */
  readonly minLength: number;
  /** [SEP] is banned while fewer than this many tokens were generated; 0 = off. */
  readonly minNewTokens: number;
  /** 1 = greedy search, more = beam search. */
  readonly numBeams: number;
  readonly lengthPenalty: number;
  /** 1 = off. */
  readonly repetitionPenalty: number;
  readonly earlyStopping: boolean | 'never';
  /** The model's position limit; `generate` rejects a prompt + `maxNewTokens` beyond it. */
  readonly maxPositions: number;
}

/**
 * Merges a client's options over a variant's defaults and validates what the client sent, throwing
 * `ServiceError(BAD_USER_INPUT)` with an "Expected … for … but received …" message. Defaults are trusted (the variant
 * manifest was validated at startup). A client that sets either length cap replaces both default caps, so a client's
 * `maxLength` is never overridden by a default `maxNewTokens`.
 */
export function resolveGenerationOptions(
  options: GenerationOptions,
  defaults: GenerationDefaults,
  limits: GenerationLimits,
): ResolvedGenerationOptions {
  const { maxPositions, maxBeams } = limits;
  const maxLength = optionalInteger(options.maxLength, 'maxLength', 1, maxPositions);
  const maxNewTokens = optionalInteger(options.maxNewTokens, 'maxNewTokens', 1, maxPositions);
  const minLength = optionalInteger(options.minLength, 'minLength', 0, maxPositions);
  const minNewTokens = optionalInteger(options.minNewTokens, 'minNewTokens', 0, maxPositions);
  const numBeams = optionalInteger(options.numBeams, 'numBeams', 1, maxBeams);
  const lengthPenalty = optionalNumber(options.lengthPenalty, 'lengthPenalty', 'number in [-10, 10]', (v) => v >= -10 && v <= 10);
  const repetitionPenalty = optionalNumber(options.repetitionPenalty, 'repetitionPenalty', 'number in (0, 100]', (v) => v > 0 && v <= 100);
  const earlyStopping = optionalEarlyStopping(options.earlyStopping);

  const clientSetLength = maxLength !== undefined || maxNewTokens !== undefined;
  return {
    maxLength: maxLength ?? defaults.maxLength,
    maxNewTokens: clientSetLength ? maxNewTokens : defaults.maxNewTokens,
    minLength: minLength ?? defaults.minLength,
    minNewTokens: minNewTokens ?? 0,
    numBeams: numBeams ?? defaults.numBeams,
    lengthPenalty: lengthPenalty ?? defaults.lengthPenalty,
    repetitionPenalty: repetitionPenalty ?? defaults.repetitionPenalty,
    earlyStopping: earlyStopping ?? defaults.earlyStopping,
    maxPositions,
  };
}

// Private: one validator per value kind; `null` and `undefined` mean "not given".

function optionalInteger(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(name, `integer ${min}..${max}`, value);
  }
  return value;
}

function optionalNumber(value: unknown, name: string, expected: string, accept: (v: number) => boolean): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !accept(value)) throw invalidOption(name, expected, value);
  return value;
}

function optionalEarlyStopping(value: unknown): boolean | 'never' | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === false || value === 'never') return value;
  throw invalidOption('earlyStopping', "true, false or 'never'", value);
}

/** "Expected integer 1..64 for numBeams but received 1000" (the sharp-style message the house style asks for). */
export function invalidOption(name: string, expected: string, received: unknown): ServiceError {
  return new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected ${expected} for ${name} but received ${describeReceived(received)}`, {
    details: { option: name },
  });
}

function describeReceived(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 40 ? `${text.slice(0, 37)}...` : text;
  } catch {
    return typeof value;
  }
}
