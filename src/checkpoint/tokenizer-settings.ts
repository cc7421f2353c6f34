/**
 * What tokenizer_config.json and special_tokens_map.json say: the special tokens and their roles, the length limit, and
 * the switches of BertTokenizer's basic tokenizer (for checkpoints that ship only the slow tokenizer's files).
 */
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';
import type { TokenizerSettings } from './tokenizer-json.ts';

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

export interface SlowOptions {
  lowercase: boolean;
  stripAccents: boolean | null;
  chineseChars: boolean;
}

/**
 * Special-token names (tokenizer_config.json, overridden by special_tokens_map.json as transformers does), lengths and
 * clean-up.
 */
export function readSettings(config: Record<string, unknown>, specialMap: Record<string, unknown>, configFile: string, specialFile: string): TokenizerSettings {
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

/** BertTokenizer's basic-tokenizer switches; the unsupported ones are refused rather than ignored. */
export function readSlowOptions(config: Record<string, unknown>, file: string): SlowOptions {
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

// Private: a special token given as a string or as a serialised AddedToken `{content, ...}`.
function tokenContent(value: unknown, key: string, file: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as Record<string, unknown>).content === 'string') return (value as { content: string }).content;
  throw checkpointError(file, `Expected a token string or {content} for ${key} but received ${describeValue(value)}`);
}
