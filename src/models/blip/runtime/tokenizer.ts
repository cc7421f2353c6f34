import * as tokenizers from '@huggingface/tokenizers';
import { describeValue } from '../../../checkpoint/describe-value.ts';
import type { BertNormalizerJson, TokenizerSettings } from '../../../checkpoint/tokenizer-files.ts';
import { ErrorCode, ServiceError } from '../../../errors.ts';

/**
 * The parts of @huggingface/tokenizers used here. The package's bundled .d.ts files re-export with extensionless
 * relative paths, which NodeNext resolution cannot follow (every export types as missing or any), so they are
 * declared here against its 0.2.0 API.
 */
interface LibraryTokenizer {
  normalizer: unknown;
  encode(text: string, options: { add_special_tokens: boolean }): { ids: (number | undefined)[] };
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
}
interface TokenizersLibrary {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => LibraryTokenizer;
  /** Base class of normalizers; instances are callable and call `normalize`. */
  Normalizer: abstract new (config: object) => { normalize(text: string): string };
}
const library = tokenizers as unknown as TokenizersLibrary;

/**
 * BLIP's text tokenizer: transformers' slow `BertTokenizer` as `BlipProcessor` uses it (blip-spec.md §1.6, §5.6, §8),
 * built from a tokenizer.json object (see checkpoint/tokenizer-files.ts).
 *
 * @huggingface/tokenizers does the added-token splitting, BERT pre-tokenisation (whitespace and punctuation) and
 * WordPiece. Three parts are ours because the library differs from the slow Python tokenizer:
 * - normalisation (SlowBertNormalizer below): the library lowercases the whole string (so a word-final "Σ" becomes
 *   "ς", where transformers lowercases character by character and gets "σ"), pads only BMP CJK ideographs (it reads
 *   UTF-16 units, missing the supplementary-plane ideographs), keeps unassigned code points (Python's `_is_control`
 *   drops every category C*, Cn included), and skips the NFC step of BasicTokenizer;
 * - [CLS] … [SEP] are added here from the configured special tokens, exactly as `build_inputs_with_special_tokens`;
 * - decoding follows PreTrainedTokenizer._decode + BertTokenizer.convert_tokens_to_string (the library's WordPiece
 *   decoder cleans up per token and trims differently).
 */
export class BlipTokenizer {
  /** model_max_length: the longest input in tokens, [CLS] and [SEP] included (Infinity when unset). */
  readonly maxLength: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;

  private readonly tokenizer: LibraryTokenizer;
  /** Ids removed by `skipSpecialTokens`: every special token (transformers' all_special_ids). */
  private readonly specialIds: ReadonlySet<number>;
  /** Tokens that `_decode` keeps apart from their neighbours (its "legacy added tokens"), see decode(). */
  private readonly standaloneTokens: ReadonlySet<string>;
  private readonly cleanUpSpaces: boolean;

  private constructor(tokenizer: LibraryTokenizer, settings: TokenizerSettings, specialIds: Set<number>, standalone: Set<string>) {
    this.tokenizer = tokenizer;
    this.specialIds = specialIds;
    this.standaloneTokens = standalone;
    this.cleanUpSpaces = settings.clean_up_tokenization_spaces;
    this.maxLength = settings.model_max_length ?? Number.POSITIVE_INFINITY;
    this.clsId = this.requireId(settings.cls_token, 'cls_token');
    this.sepId = this.requireId(settings.sep_token, 'sep_token');
    this.padId = this.requireId(settings.pad_token, 'pad_token');
    this.unkId = this.requireId(settings.unk_token, 'unk_token');
  }

  /**
   * Builds the tokenizer from a tokenizer.json object: what readTokenizerJson returns, or any BERT tokenizer.json
   * (without the `tokenizer_config` key, BERT's default special tokens and no length limit are assumed).
   *
   * @throws ServiceError INVALID_VARIANT when the object is not a BERT WordPiece tokenizer.
   */
  static fromJson(json: unknown): BlipTokenizer {
    const root = objectField(json, 'the tokenizer');
    const model = objectField(root.model, 'model');
    if (model.type !== 'WordPiece') invalid('model.type', '"WordPiece"', model.type);
    objectField(model.vocab, 'model.vocab');
    const normalizer = objectField(root.normalizer, 'normalizer');
    if (normalizer.type !== 'BertNormalizer') invalid('normalizer.type', '"BertNormalizer"', normalizer.type);
    const preTokenizer = objectField(root.pre_tokenizer, 'pre_tokenizer');
    if (preTokenizer.type !== 'BertPreTokenizer') invalid('pre_tokenizer.type', '"BertPreTokenizer"', preTokenizer.type);
    const addedTokens = root.added_tokens ?? [];
    if (!Array.isArray(addedTokens)) invalid('added_tokens', 'a list', addedTokens);
    const added = (addedTokens as unknown[]).map((entry, i) => {
      const t = objectField(entry, `added_tokens[${i}]`);
      if (!Number.isInteger(t.id) || typeof t.content !== 'string') invalid(`added_tokens[${i}]`, '{id, content}', entry);
      return t as { id: number; content: string; special?: boolean };
    });
    const settings = readSettings(root.tokenizer_config);

    const tokenizer = new library.Tokenizer(
      {
        ...root,
        // We add [CLS]/[SEP] and decode ourselves (see the class comment); the library needs neither part.
        post_processor: null,
        decoder: null,
        model: { continuing_subword_prefix: '##', max_input_chars_per_word: 100, ...model },
        added_tokens: added,
      },
      {},
    );
    tokenizer.normalizer = new SlowBertNormalizer(normalizer as unknown as BertNormalizerJson);
    if (typeof model.unk_token !== 'string' || tokenizer.token_to_id(model.unk_token) === undefined) {
      invalid('model.unk_token', 'a token of the vocabulary', model.unk_token);
    }

    const named = [settings.cls_token, settings.sep_token, settings.pad_token, settings.unk_token, settings.mask_token, settings.bos_token, settings.eos_token];
    const specialNames = new Set([...named, ...settings.additional_special_tokens].filter((t): t is string => typeof t === 'string'));
    const specialIds = new Set<number>();
    for (const t of added) if (t.special === true) specialIds.add(t.id);
    for (const name of specialNames) {
      const id = tokenizer.token_to_id(name);
      if (id !== undefined) specialIds.add(id);
    }
    // transformers' _decode sets apart added tokens that are not special, and additional special tokens whose id lies
    // past the base vocabulary: `set(added_tokens_encoder) - set(all_special_tokens) | {additional ≥ vocab_size}`.
    const baseVocabSize = Object.keys(model.vocab as Record<string, number>).length;
    const namedSet = new Set(named.filter((t): t is string => typeof t === 'string'));
    const standalone = new Set<string>();
    for (const t of added) {
      const additional = settings.additional_special_tokens.includes(t.content) && !namedSet.has(t.content);
      if ((!specialNames.has(t.content) && t.special !== true) || (additional && t.id >= baseVocabSize)) standalone.add(t.content);
    }
    return new BlipTokenizer(tokenizer, settings, specialIds, standalone);
  }

  /**
   * `tokenizer(text).input_ids` as BlipProcessor calls it: `[CLS] … [SEP]`, no truncation (compare the length with
   * maxLength), no token type ids. Special tokens written in the text ("[SEP]") are recognised, as in transformers.
   */
  encode(text: string): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    // Only possible when the unk token is missing from the vocabulary, which fromJson refuses.
    if (ids.some((id) => id === undefined)) throw new Error('The tokenizer produced a token without an id');
    return [this.clsId, ...(ids as number[]), this.sepId];
  }

  /**
   * Text for generated ids, as `tokenizer.decode(ids, skip_special_tokens=True)` (the default here; pass false to keep
   * special tokens): pieces joined by spaces with " ##" glued, stripped, then clean_up_tokenization_spaces (" ." → ".",
   * " n't" → "n't", …) when the tokenizer config asks for it.
   *
   * Ids the tokenizer does not know vanish. The Salesforce checkpoints generate [DEC] = 30522, which their tokenizer
   * files do not list; HF's (fast) tokenizer drops such ids too.
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const skipSpecial = options.skipSpecialTokens ?? true;
    const parts: string[] = [];
    let run: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      const token = Number.isInteger(id) ? this.tokenizer.id_to_token(id) : undefined;
      if (token === undefined) continue;
      if (skipSpecial && this.specialIds.has(id)) continue;
      if (this.standaloneTokens.has(token)) {
        // _decode converts the run so far on its own and keeps the added token as a separate piece.
        if (run.length > 0) {
          const text = joinWordPieces(run);
          if (text.length > 0) parts.push(text);
          run = [];
        }
        parts.push(token);
      } else {
        run.push(token);
      }
    }
    if (run.length > 0) parts.push(joinWordPieces(run));
    const text = parts.join(' ');
    return this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  /** The id of a token (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  // Private.
  private requireId(token: string, role: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) invalid(`tokenizer_config.${role}`, 'a token of the vocabulary', token);
    return id as number;
  }
}

/**
 * BasicTokenizer's text normalisation (transformers 4.36, tokenization_bert.py + PreTrainedTokenizer.tokenize), in its
 * order: lowercase character by character (PreTrainedTokenizer.tokenize does this before splitting off added tokens,
 * one character at a time, which is why a final "Σ" becomes "σ"), remove NUL, U+FFFD and every category C character
 * except \t \n \r, turn whitespace (\t \n \r, Zs) into spaces, pad CJK ideographs with spaces, NFC, then NFD and drop
 * nonspacing marks when stripping accents. Whitespace/punctuation splitting is left to the library's
 * BertPreTokenizer, which splits exactly where BasicTokenizer does once the text is normalised.
 */
class SlowBertNormalizer extends library.Normalizer {
  private readonly options: BertNormalizerJson;

  constructor(options: BertNormalizerJson) {
    super({
      type: 'BertNormalizer',
      clean_text: options.clean_text,
      handle_chinese_chars: options.handle_chinese_chars,
      strip_accents: options.strip_accents ?? undefined,
      lowercase: options.lowercase,
    });
    this.options = options;
  }

  override normalize(text: string): string {
    const { lowercase, clean_text: clean, handle_chinese_chars: chinese, strip_accents: stripAccents } = this.options;
    const out: string[] = [];
    for (const ch of text) {
      // toLowerCase can return several characters ("İ" → "i̇"); classify each.
      for (const part of lowercase ? ch.toLowerCase() : ch) {
        const cp = part.codePointAt(0)!;
        if (clean) {
          if (cp === 0 || cp === 0xfffd || isControl(part)) continue;
          if (isWhitespace(part)) {
            out.push(' ');
            continue;
          }
        }
        out.push(chinese && isCjkIdeograph(cp) ? ` ${part} ` : part);
      }
    }
    let normalized = out.join('').normalize('NFC');
    // Lowercasing again per word, as BasicTokenizer does, changes nothing after the character-wise pass.
    if (stripAccents === true || (stripAccents === null && lowercase)) normalized = normalized.normalize('NFD').replace(/\p{Mn}/gu, '');
    return normalized;
  }
}

// Private: BertTokenizer.convert_tokens_to_string.
function joinWordPieces(tokens: string[]): string {
  return pythonStrip(tokens.join(' ').replaceAll(' ##', ''));
}

// Private: PreTrainedTokenizerBase.clean_up_tokenization (Python str.replace, left to right, non-overlapping).
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Python's str.strip() whitespace (it differs from String.prototype.trim: \x1c-\x1f and \x85 yes, \uFEFF no). */
const PYTHON_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PYTHON_STRIP = new RegExp(`^${PYTHON_SPACE}+|${PYTHON_SPACE}+$`, 'g');

// Private.
function pythonStrip(text: string): string {
  return text.replace(PYTHON_STRIP, '');
}

// Private: BasicTokenizer._is_control: category C* except tab, newline, carriage return.
function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /^\p{C}$/u.test(ch);
}

// Private: BasicTokenizer._is_whitespace.
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /^\p{Zs}$/u.test(ch);
}

// Private: BasicTokenizer._is_chinese_char (CJK Unified Ideographs, extensions A–E and compatibility ideographs).
function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

// Private: the `tokenizer_config` extension, or BERT's defaults for a plain tokenizer.json.
function readSettings(raw: unknown): TokenizerSettings {
  const defaults: TokenizerSettings = {
    model_max_length: null,
    clean_up_tokenization_spaces: true,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    bos_token: null,
    eos_token: null,
    additional_special_tokens: [],
  };
  if (raw === undefined || raw === null) return defaults;
  const s = objectField(raw, 'tokenizer_config');
  const max = s.model_max_length ?? null;
  if (max !== null && !(Number.isInteger(max) && (max as number) > 0)) invalid('tokenizer_config.model_max_length', 'a positive integer or null', max);
  const text = (key: keyof TokenizerSettings, nullable: boolean): string | null => {
    const value = s[key] ?? (nullable ? null : defaults[key]);
    if (value === null && nullable) return null;
    if (typeof value !== 'string') invalid(`tokenizer_config.${key}`, 'a token string', value);
    return value as string;
  };
  const additional = s.additional_special_tokens ?? [];
  if (!Array.isArray(additional) || !additional.every((t) => typeof t === 'string')) {
    invalid('tokenizer_config.additional_special_tokens', 'a list of token strings', additional);
  }
  return {
    model_max_length: max as number | null,
    clean_up_tokenization_spaces: s.clean_up_tokenization_spaces !== false,
    cls_token: text('cls_token', false)!,
    sep_token: text('sep_token', false)!,
    pad_token: text('pad_token', false)!,
    unk_token: text('unk_token', false)!,
    mask_token: text('mask_token', true),
    bos_token: text('bos_token', true),
    eos_token: text('eos_token', true),
    additional_special_tokens: additional as string[],
  };
}

// Private.
function objectField(value: unknown, field: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  return invalid(field, 'an object', value);
}

// Private.
function invalid(field: string, expected: string, received: unknown): never {
  throw new ServiceError(ErrorCode.INVALID_VARIANT, `tokenizer.json: Expected ${expected} for ${field} but received ${describeValue(received)}`, {
    details: { file: 'tokenizer.json', field },
  });
}
