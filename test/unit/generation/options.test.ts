import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/errors.ts';
import { resolveGenerationOptions, type GenerationDefaults, type GenerationOptions } from '../../../src/generation/options.ts';

// BLIP hub defaults (blip-spec.md §5.3): greedy, max_length 20, nothing else set.
const defaults: GenerationDefaults = { maxLength: 20, minLength: 0, numBeams: 1, lengthPenalty: 1, repetitionPenalty: 1, earlyStopping: false };
const limits = { maxPositions: 512, maxBeams: 64 };

function errorOf(options: GenerationOptions): ServiceError {
  try {
    resolveGenerationOptions(options, defaults, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error('expected resolveGenerationOptions to throw');
}

describe('resolveGenerationOptions', () => {
  it('returns the defaults when nothing is given', () => {
    expect(resolveGenerationOptions({}, defaults, limits)).toEqual({
      maxLength: 20,
      maxNewTokens: undefined,
      minLength: 0,
      minNewTokens: 0,
      numBeams: 1,
      lengthPenalty: 1,
      repetitionPenalty: 1,
      earlyStopping: false,
      maxPositions: 512,
    });
  });

  it('lets client values win and treats null as absent', () => {
    const resolved = resolveGenerationOptions(
      { maxLength: 30, minLength: 5, numBeams: 3, lengthPenalty: -0.5, repetitionPenalty: 1.2, earlyStopping: 'never', minNewTokens: null, maxNewTokens: null },
      defaults,
      limits,
    );
    expect(resolved).toMatchObject({ maxLength: 30, maxNewTokens: undefined, minLength: 5, minNewTokens: 0, numBeams: 3, lengthPenalty: -0.5, repetitionPenalty: 1.2, earlyStopping: 'never' });
  });

  it('keeps maxNewTokens next to maxLength (generate gives maxNewTokens precedence)', () => {
    expect(resolveGenerationOptions({ maxLength: 30, maxNewTokens: 8 }, defaults, limits)).toMatchObject({ maxLength: 30, maxNewTokens: 8 });
  });

  it("drops a default maxNewTokens when the client sets a length cap, keeps it otherwise", () => {
    const withDefault: GenerationDefaults = { ...defaults, maxNewTokens: 8 };
    expect(resolveGenerationOptions({}, withDefault, limits)).toMatchObject({ maxLength: 20, maxNewTokens: 8 });
    expect(resolveGenerationOptions({ maxLength: 12 }, withDefault, limits)).toMatchObject({ maxLength: 12, maxNewTokens: undefined });
    expect(resolveGenerationOptions({ maxNewTokens: 3 }, withDefault, limits)).toMatchObject({ maxLength: 20, maxNewTokens: 3 });
  });

  it('rejects out-of-range values with sharp-style messages', () => {
    const cases: Array<[GenerationOptions, string]> = [
      [{ numBeams: 1000 }, 'Expected integer 1..64 for numBeams but received 1000'],
      [{ numBeams: 0 }, 'Expected integer 1..64 for numBeams but received 0'],
      [{ numBeams: 2.5 }, 'Expected integer 1..64 for numBeams but received 2.5'],
      [{ maxLength: 0 }, 'Expected integer 1..512 for maxLength but received 0'],
      [{ maxLength: 513 }, 'Expected integer 1..512 for maxLength but received 513'],
      [{ maxNewTokens: 0 }, 'Expected integer 1..512 for maxNewTokens but received 0'],
      [{ minLength: -1 }, 'Expected integer 0..512 for minLength but received -1'],
      [{ minNewTokens: Number.NaN }, 'Expected integer 0..512 for minNewTokens but received NaN'],
      [{ lengthPenalty: Number.POSITIVE_INFINITY }, 'Expected number in [-10, 10] for lengthPenalty but received Infinity'],
      [{ lengthPenalty: 11 }, 'Expected number in [-10, 10] for lengthPenalty but received 11'],
      [{ repetitionPenalty: 0 }, 'Expected number in (0, 100] for repetitionPenalty but received 0'],
      [{ repetitionPenalty: -1 }, 'Expected number in (0, 100] for repetitionPenalty but received -1'],
      [{ earlyStopping: 'always' as never }, `Expected true, false or 'never' for earlyStopping but received "always"`],
      [{ numBeams: '3' as never }, 'Expected integer 1..64 for numBeams but received "3"'],
    ];
    for (const [options, message] of cases) {
      const error = errorOf(options);
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.message).toBe(message);
    }
  });

  it('names the offending option in the error details', () => {
    expect(errorOf({ numBeams: 65 }).details).toEqual({ option: 'numBeams' });
  });
});
