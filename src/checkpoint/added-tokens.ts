/**
 * The tokens a checkpoint adds to its vocabulary, from wherever transformers would take them, merged into a
 * tokenizer.json as PreTrainedTokenizerFast does when it loads.
 */
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';
import { asObject } from './json-file.ts';
import { addedToken, type AddedTokenJson, type TokenizerJson, type TokenizerSettings } from './tokenizer-json.ts';

/** `added_tokens_decoder` of a tokenizer_config.json written by transformers ≥ 4.34. */
export function readAddedTokensDecoder(config: Record<string, unknown>, file: string): AddedTokenJson[] {
  const decoder = asObject(config.added_tokens_decoder, file, 'added_tokens_decoder');
  if (decoder === undefined) return [];
  return Object.entries(decoder)
    .map(([key, value]) => {
      const id = Number(key);
      const entry = asObject(value, file, `added_tokens_decoder["${key}"]`);
      if (!Number.isInteger(id) || id < 0 || entry === undefined || typeof entry.content !== 'string') {
        throw checkpointError(file, `Expected {"<id>": {content, ...}} in added_tokens_decoder but received ${describeValue({ [key]: value })}`);
      }
      return addedToken(id, entry.content, entry);
    })
    .sort((a, b) => a.id - b.id);
}

/** The legacy added_tokens.json, `{token: id}`. */
export function readAddedTokensFile(json: Record<string, unknown>, file: string): AddedTokenJson[] {
  return Object.entries(json)
    .map(([content, id]) => {
      if (!Number.isInteger(id) || (id as number) < 0) {
        throw checkpointError(file, `Expected a non-negative integer id for ${describeValue(content)} but received ${describeValue(id)}`);
      }
      return addedToken(id as number, content, { special: false, normalized: true });
    })
    .sort((a, b) => a.id - b.id);
}

/**
 * Adds what transformers would add on load, in its order: tokenizer_config's added_tokens_decoder, then
 * added_tokens.json, then named special tokens still missing (with their vocabulary id, or the next free id). A token
 * is special when its entry says so or tokenizer_config names it as a special token.
 */
export function mergeAddedTokens(json: TokenizerJson, settings: TokenizerSettings, fromDecoder: AddedTokenJson[], fromFile: AddedTokenJson[]): void {
  // transformers' SPECIAL_TOKENS_ATTRIBUTES order, which decides the ids of tokens it has to append.
  const named = new Set(
    [
      settings.bos_token,
      settings.eos_token,
      settings.unk_token,
      settings.sep_token,
      settings.pad_token,
      settings.cls_token,
      settings.mask_token,
      ...settings.additional_special_tokens,
    ].filter((t): t is string => typeof t === 'string' && t.length > 0),
  );
  const present = new Set(json.added_tokens.map((t) => t.content));
  const add = (token: AddedTokenJson): void => {
    if (present.has(token.content)) return;
    json.added_tokens.push(token);
    present.add(token.content);
  };
  fromDecoder.forEach(add);
  fromFile.forEach((t) => add(named.has(t.content) ? { ...t, special: true, normalized: false } : t));
  let nextId = 0;
  for (const id of Object.values(json.model.vocab)) nextId = Math.max(nextId, id + 1);
  for (const token of json.added_tokens) nextId = Math.max(nextId, token.id + 1);
  for (const content of named) {
    if (present.has(content)) continue;
    const vocabId = Object.hasOwn(json.model.vocab, content) ? json.model.vocab[content] : undefined;
    add(addedToken(vocabId ?? nextId, content, { special: true }));
    if (vocabId === undefined) nextId++;
  }
  for (const token of json.added_tokens) {
    if (named.has(token.content)) token.special = true;
  }
  json.added_tokens.sort((a, b) => a.id - b.id);
}
