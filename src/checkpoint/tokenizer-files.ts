import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';

/**
 * The tokenizer of a BLIP checkpoint as one `tokenizer.json` object (the Hugging Face tokenizers format), whatever
 * files the checkpoint ships: `tokenizer.json` itself when present, otherwise the slow BertTokenizer files
 * (`vocab.txt` + `tokenizer_config.json` + `special_tokens_map.json` / `added_tokens.json`) turned into the same JSON
 * that transformers' BertConverter would write. Either way the tokens that tokenizer_config.json declares but
 * tokenizer.json lacks are merged in, as PreTrainedTokenizerFast does when it loads.
 *
 * tokenizer.json has no place for what tokenizer_config.json says about lengths and special-token roles, so those go
 * into one extra top-level key, `tokenizer_config` (the tokenizers library ignores keys it does not know).
 */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: BertNormalizerJson;
  pre_tokenizer: { type: 'BertPreTokenizer' };
  post_processor: Record<string, unknown>;
  decoder: Record<string, unknown> | null;
  model: WordPieceModelJson;
  tokenizer_config: TokenizerSettings;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface BertNormalizerJson {
  type: 'BertNormalizer';
  clean_text: boolean;
  handle_chinese_chars: boolean;
  /** null: strip accents exactly when lowercasing (BertTokenizer's default). */
  strip_accents: boolean | null;
  lowercase: boolean;
}

export interface WordPieceModelJson {
  type: 'WordPiece';
  unk_token: string;
  continuing_subword_prefix: string;
  max_input_chars_per_word: number;
  vocab: Record<string, number>;
}

/** The tokenizer_config.json facts the runtime needs (names as in that file). */
export interface TokenizerSettings {
  /** Longest input in tokens, [CLS] and [SEP] included; null when the checkpoint sets no limit. */
  model_max_length: number | null;
  clean_up_tokenization_spaces: boolean;
  cls_token: string;
  sep_token: string;
  pad_token: string;
  unk_token: string;
  mask_token: string | null;
  bos_token: string | null;
  eos_token: string | null;
  additional_special_tokens: string[];
}

export interface TokenizerFiles {
  json: TokenizerJson;
  /** `model_max_length`, or Infinity when the checkpoint sets none. */
  maxLength: number;
}

const FILES = {
  fast: 'tokenizer.json',
  vocab: 'vocab.txt',
  config: 'tokenizer_config.json',
  specialTokens: 'special_tokens_map.json',
  addedTokens: 'added_tokens.json',
} as const;

/** transformers stores "no limit" as int(1e30); anything this large means the same. */
const NO_LIMIT_THRESHOLD = 1e20;
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];
/** BertTokenizer's constructor defaults. */
const BERT_SPECIAL_DEFAULTS: Record<SpecialTokenKey, string | null> = {
  bos_token: null,
  eos_token: null,
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};
const BERT_TOKENIZER_CLASSES = new Set(['BertTokenizer', 'BertTokenizerFast']);

/** Reads the tokenizer files of the checkpoint in `dir` (see TokenizerJson). */
export async function readTokenizerJson(dir: string): Promise<TokenizerFiles> {
  const configFile = join(dir, FILES.config);
  const config = asObject(await readJsonIfPresent(configFile), configFile) ?? {};
  const specialFile = join(dir, FILES.specialTokens);
  const specialMap = asObject(await readJsonIfPresent(specialFile), specialFile) ?? {};
  const addedFile = join(dir, FILES.addedTokens);
  const addedTokensJson = asObject(await readJsonIfPresent(addedFile), addedFile) ?? {};

  const settings = readSettings(config, specialMap, configFile, specialFile);
  const slowOptions = readSlowOptions(config, configFile);

  const fastFile = join(dir, FILES.fast);
  const fast = await readJsonIfPresent(fastFile);
  let json: TokenizerJson;
  if (fast !== undefined) {
    json = checkFastTokenizer(fast, fastFile, settings);
  } else {
    const vocabFile = join(dir, FILES.vocab);
    const vocabText = await readTextIfPresent(vocabFile);
    if (vocabText === undefined) {
      throw checkpointError(
        dir,
        `Expected a tokenizer (${FILES.fast}, or ${FILES.vocab} with ${FILES.config}) in this directory but found neither ${FILES.fast} nor ${FILES.vocab}`,
      );
    }
    json = buildFromVocab(parseVocab(vocabText, vocabFile), settings, slowOptions);
  }

  // Named special tokens missing from the vocabulary get new ids here, as transformers adds them on load.
  mergeAddedTokens(json, settings, readAddedTokensDecoder(config, configFile), readAddedTokensFile(addedTokensJson, addedFile));
  if (json.post_processor === null || Object.keys(json.post_processor).length === 0) json.post_processor = bertTemplate(json, settings);
  json.tokenizer_config = settings;
  return { json, maxLength: settings.model_max_length ?? Number.POSITIVE_INFINITY };
}

// Private: the id of `token` in the vocabulary or the added tokens.
function idOf(json: Pick<TokenizerJson, 'model' | 'added_tokens'>, token: string): number | undefined {
  const added = json.added_tokens.find((t) => t.content === token);
  if (added) return added.id;
  return Object.hasOwn(json.model.vocab, token) ? json.model.vocab[token] : undefined;
}

interface SlowOptions {
  lowercase: boolean;
  stripAccents: boolean | null;
  chineseChars: boolean;
}

// Private: special-token names (tokenizer_config.json, overridden by special_tokens_map.json as transformers
// does), lengths and clean-up.
function readSettings(config: Record<string, unknown>, specialMap: Record<string, unknown>, configFile: string, specialFile: string): TokenizerSettings {
  const tokenClass = config.tokenizer_class;
  if (tokenClass !== undefined && (typeof tokenClass !== 'string' || !BERT_TOKENIZER_CLASSES.has(tokenClass))) {
    throw checkpointError(configFile, `Expected "BertTokenizer" for tokenizer_class (BLIP uses BERT's WordPiece) but received ${describeValue(tokenClass)}`);
  }
  const named = {} as Record<SpecialTokenKey, string | null>;
  for (const key of SPECIAL_TOKEN_KEYS) {
    const fromMap = tokenContent(specialMap[key], key, specialFile);
    const fromConfig = tokenContent(config[key], key, configFile);
    named[key] = fromMap ?? fromConfig ?? BERT_SPECIAL_DEFAULTS[key];
  }
  const additionalRaw = specialMap.additional_special_tokens ?? config.additional_special_tokens ?? [];
  const additionalFile = specialMap.additional_special_tokens !== undefined ? specialFile : configFile;
  if (!Array.isArray(additionalRaw)) {
    throw checkpointError(additionalFile, `Expected a list for additional_special_tokens but received ${describeValue(additionalRaw)}`);
  }
  const additional = additionalRaw.map((t, i) => tokenContent(t, `additional_special_tokens[${i}]`, additionalFile) ?? '');

  let maxLength: number | null = null;
  const rawMax = config.model_max_length;
  if (rawMax !== undefined && rawMax !== null) {
    if (typeof rawMax !== 'number' || !(rawMax >= 1) || (rawMax < NO_LIMIT_THRESHOLD && !Number.isInteger(rawMax))) {
      throw checkpointError(configFile, `Expected a positive integer for model_max_length but received ${describeValue(rawMax)}`);
    }
    maxLength = rawMax >= NO_LIMIT_THRESHOLD ? null : rawMax;
  }
  const cleanUp = config.clean_up_tokenization_spaces ?? true;
  if (typeof cleanUp !== 'boolean') {
    throw checkpointError(configFile, `Expected a boolean for clean_up_tokenization_spaces but received ${describeValue(cleanUp)}`);
  }
  const required = (key: 'cls_token' | 'sep_token' | 'pad_token' | 'unk_token'): string => {
    const value = named[key];
    if (value === null) throw checkpointError(configFile, `Expected a ${key} (BERT needs it) but it is null`);
    return value;
  };
  return {
    model_max_length: maxLength,
    clean_up_tokenization_spaces: cleanUp,
    cls_token: required('cls_token'),
    sep_token: required('sep_token'),
    pad_token: required('pad_token'),
    unk_token: required('unk_token'),
    mask_token: named.mask_token,
    bos_token: named.bos_token,
    eos_token: named.eos_token,
    additional_special_tokens: additional,
  };
}

// Private: BertTokenizer's basic-tokenizer switches; the unsupported ones are refused rather than ignored.
function readSlowOptions(config: Record<string, unknown>, file: string): SlowOptions {
  const flag = (key: string, fallback: boolean): boolean => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'boolean') throw checkpointError(file, `Expected a boolean for ${key} but received ${describeValue(value)}`);
    return value;
  };
  if (!flag('do_basic_tokenize', true)) {
    throw checkpointError(file, 'Expected do_basic_tokenize true (WordPiece without basic tokenization is not supported) but received false');
  }
  const neverSplit = config.never_split;
  if (neverSplit !== undefined && neverSplit !== null && !(Array.isArray(neverSplit) && neverSplit.length === 0)) {
    throw checkpointError(file, `Expected never_split null or empty (not supported) but received ${describeValue(neverSplit)}`);
  }
  const stripAccents = config.strip_accents ?? null;
  if (stripAccents !== null && typeof stripAccents !== 'boolean') {
    throw checkpointError(file, `Expected null or a boolean for strip_accents but received ${describeValue(stripAccents)}`);
  }
  return { lowercase: flag('do_lower_case', true), stripAccents, chineseChars: flag('tokenize_chinese_chars', true) };
}

// Private: vocab.txt as BertTokenizer's load_vocab reads it: one token per line (universal newlines), ids in line
// order, only the line break removed; a repeated token keeps its last id.
function parseVocab(text: string, file: string): Record<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw checkpointError(file, 'Expected at least one token but the file is empty');
  const vocab: Record<string, number> = Object.create(null);
  lines.forEach((token, id) => {
    vocab[token] = id;
  });
  return vocab;
}

// Private: what transformers' BertConverter produces from a slow BertTokenizer.
function buildFromVocab(vocab: Record<string, number>, settings: TokenizerSettings, options: SlowOptions): TokenizerJson {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: options.chineseChars,
      strip_accents: options.stripAccents,
      lowercase: options.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    // Filled in once the added tokens are known (the ids of [CLS] and [SEP] may be added ones).
    post_processor: {},
    decoder: { type: 'WordPiece', prefix: '##', cleanup: settings.clean_up_tokenization_spaces },
    model: {
      type: 'WordPiece',
      unk_token: settings.unk_token,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
    tokenizer_config: settings,
  };
}

// Private: `[CLS] $A [SEP]` (and the pair form), as TemplateProcessing serialises it.
function bertTemplate(json: TokenizerJson, settings: TokenizerSettings): Record<string, unknown> {
  const cls = settings.cls_token;
  const sep = settings.sep_token;
  const special = (id: string, typeId: number): Record<string, unknown> => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: string, typeId: number): Record<string, unknown> => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
    pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
    special_tokens: {
      [cls]: { id: cls, ids: [idOf(json, cls)], tokens: [cls] },
      [sep]: { id: sep, ids: [idOf(json, sep)], tokens: [sep] },
    },
  };
}

// Private: a tokenizer.json written by the tokenizers library, checked for the parts BlipTokenizer relies on.
function checkFastTokenizer(raw: unknown, file: string, settings: TokenizerSettings): TokenizerJson {
  const json = asObject(raw, file);
  if (json === undefined) throw checkpointError(file, 'Expected a JSON object but received nothing');
  const model = asObject(json.model, file, 'model') ?? {};
  if (model.type !== 'WordPiece' && !(model.type === undefined && 'continuing_subword_prefix' in model)) {
    throw checkpointError(file, `Expected a WordPiece model (BERT's tokenizer) for model.type but received ${describeValue(model.type)}`);
  }
  const vocab = asObject(model.vocab, file, 'model.vocab');
  if (vocab === undefined || !Object.values(vocab).every((id) => Number.isInteger(id) && (id as number) >= 0)) {
    throw checkpointError(file, 'Expected model.vocab to map every token to a non-negative integer id');
  }
  const normalizer = asObject(json.normalizer, file, 'normalizer');
  if (normalizer?.type !== 'BertNormalizer') {
    throw checkpointError(file, `Expected a BertNormalizer for normalizer.type but received ${describeValue(normalizer?.type)}`);
  }
  const preTokenizer = asObject(json.pre_tokenizer, file, 'pre_tokenizer');
  if (preTokenizer?.type !== 'BertPreTokenizer') {
    throw checkpointError(file, `Expected a BertPreTokenizer for pre_tokenizer.type but received ${describeValue(preTokenizer?.type)}`);
  }
  const addedRaw = json.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw checkpointError(file, `Expected a list for added_tokens but received ${describeValue(addedRaw)}`);
  const added = addedRaw.map((entry, i) => {
    const t = asObject(entry, file, `added_tokens[${i}]`) ?? {};
    if (!Number.isInteger(t.id) || typeof t.content !== 'string') {
      throw checkpointError(file, `Expected {id, content} for added_tokens[${i}] but received ${describeValue(entry)}`);
    }
    return addedToken(t.id as number, t.content, t);
  });
  return {
    version: typeof json.version === 'string' ? json.version : '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: normalizer.clean_text !== false,
      handle_chinese_chars: normalizer.handle_chinese_chars !== false,
      strip_accents: typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : null,
      lowercase: normalizer.lowercase !== false,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: asObject(json.post_processor, file, 'post_processor') ?? {},
    decoder: asObject(json.decoder, file, 'decoder') ?? null,
    model: {
      type: 'WordPiece',
      unk_token: typeof model.unk_token === 'string' ? model.unk_token : settings.unk_token,
      continuing_subword_prefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
      max_input_chars_per_word: Number.isInteger(model.max_input_chars_per_word) ? (model.max_input_chars_per_word as number) : 100,
      vocab: Object.assign(Object.create(null) as Record<string, number>, vocab as Record<string, number>),
    },
    tokenizer_config: settings,
  };
}

// Private: `added_tokens_decoder` of a tokenizer_config.json written by transformers ≥ 4.34.
function readAddedTokensDecoder(config: Record<string, unknown>, file: string): AddedTokenJson[] {
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

// Private: the legacy added_tokens.json, `{token: id}`.
function readAddedTokensFile(json: Record<string, unknown>, file: string): AddedTokenJson[] {
  return Object.entries(json)
    .map(([content, id]) => {
      if (!Number.isInteger(id) || (id as number) < 0) {
        throw checkpointError(file, `Expected a non-negative integer id for ${describeValue(content)} but received ${describeValue(id)}`);
      }
      return addedToken(id as number, content, { special: false, normalized: true });
    })
    .sort((a, b) => a.id - b.id);
}

// Private: adds what transformers would add on load, in its order: tokenizer_config's added_tokens_decoder, then
// added_tokens.json, then named special tokens still missing (with their vocabulary id, or the next free id). A token
// is special when its entry says so or tokenizer_config names it as a special token.
function mergeAddedTokens(json: TokenizerJson, settings: TokenizerSettings, fromDecoder: AddedTokenJson[], fromFile: AddedTokenJson[]): void {
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

// Private: an added-token entry with transformers' defaults (special tokens are not normalized).
function addedToken(id: number, content: string, flags: Record<string, unknown>): AddedTokenJson {
  const special = flags.special === true;
  return {
    id,
    content,
    single_word: flags.single_word === true,
    lstrip: flags.lstrip === true,
    rstrip: flags.rstrip === true,
    normalized: typeof flags.normalized === 'boolean' ? flags.normalized : !special,
    special,
  };
}

// Private: a special token given as a string or as a serialised AddedToken `{content, ...}`.
function tokenContent(value: unknown, key: string, file: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as Record<string, unknown>).content === 'string') return (value as { content: string }).content;
  throw checkpointError(file, `Expected a token string or {content} for ${key} but received ${describeValue(value)}`);
}

// Private.
function asObject(value: unknown, file: string, field?: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw checkpointError(file, `Expected a JSON object${field ? ` for ${field}` : ''} but received ${describeValue(value)}`);
}

// Private: the parsed file, or undefined when it does not exist.
async function readJsonIfPresent(file: string): Promise<unknown> {
  const text = await readTextIfPresent(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw checkpointError(file, `Expected valid JSON but parsing failed (${(cause as Error).message})`, cause);
  }
}

// Private.
async function readTextIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw checkpointError(file, `Expected a readable file but reading failed (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
}
