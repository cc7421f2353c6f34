/**
 * The tokenizer of a BLIP checkpoint as one `tokenizer.json` object (the Hugging Face tokenizers format), whatever
 * files the checkpoint ships: `tokenizer.json` itself when present, otherwise the slow BertTokenizer files
 * (`vocab.txt` + `tokenizer_config.json` + `special_tokens_map.json` / `added_tokens.json`) turned into the same JSON
 * that transformers' BertConverter would write. Either way the tokens that tokenizer_config.json declares but
 * tokenizer.json lacks are merged in, as PreTrainedTokenizerFast does when it loads.
 *
 * (Written by readTokenizerJson in tokenizer-files.ts, read by BlipTokenizer.)
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

/** The id of `token` in the vocabulary or the added tokens. */
export function idOf(json: Pick<TokenizerJson, 'model' | 'added_tokens'>, token: string): number | undefined {
  const added = json.added_tokens.find((t) => t.content === token);
  if (added) return added.id;
  return Object.hasOwn(json.model.vocab, token) ? json.model.vocab[token] : undefined;
}

/** An added-token entry with transformers' defaults (special tokens are not normalized). */
export function addedToken(id: number, content: string, flags: Record<string, unknown>): AddedTokenJson {
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
