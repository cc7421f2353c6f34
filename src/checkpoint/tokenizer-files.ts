/**
 * The tokenizer of a BLIP checkpoint as one `tokenizer.json` object (see TokenizerJson in tokenizer-json.ts), whatever
 * files the checkpoint ships: `tokenizer.json` itself when present, otherwise the slow BertTokenizer files (`vocab.txt`
 * + `tokenizer_config.json` + `special_tokens_map.json` / `added_tokens.json`) turned into the same JSON that
 * transformers' BertConverter would write.
 */
import { join } from 'node:path';
import { checkpointError } from '../errors.ts';
import { mergeAddedTokens, readAddedTokensDecoder, readAddedTokensFile } from './added-tokens.ts';
import { describeValue } from './describe-value.ts';
import { asObject, readJsonIfPresent, readTextIfPresent } from './json-file.ts';
import { addedToken, idOf, type TokenizerJson, type TokenizerSettings } from './tokenizer-json.ts';
import { readSettings, readSlowOptions, type SlowOptions } from './tokenizer-settings.ts';

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
