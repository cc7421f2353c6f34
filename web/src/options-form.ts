import type { GenerationOptionsInput } from './generated/graphql.ts';

type OptionName = keyof GenerationOptionsInput;

/** The generation options the form offers, with the input kind the server expects (integers or floats). */
const FIELDS: ReadonlyArray<{ name: OptionName; integer: boolean }> = [
  { name: 'numBeams', integer: true },
  { name: 'maxNewTokens', integer: true },
  { name: 'maxLength', integer: true },
  { name: 'minLength', integer: true },
  { name: 'repetitionPenalty', integer: false },
  { name: 'lengthPenalty', integer: false },
];

/**
 * Reads the options fieldset: an empty field is left out (the variant's default applies). Values are sent as typed,
 * and the server checks the ranges, so that an out-of-range value shows the server's BAD_USER_INPUT message.
 */
export function readOptions(form: HTMLElement): GenerationOptionsInput {
  const options: GenerationOptionsInput = {};
  for (const { name, integer } of FIELDS) {
    const input = form.querySelector<HTMLInputElement>(`[name="${name}"]`);
    const raw = input?.value.trim() ?? '';
    if (raw === '') continue;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    options[name] = integer ? Math.trunc(value) : value;
  }
  return options;
}
