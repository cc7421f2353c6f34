import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipTokenizer } from '../../../src/models/blip/runtime/tokenizer.ts';
import { readTokenizerJson } from '../../../src/checkpoint/tokenizer-files.ts';
import { ErrorCode, ServiceError } from '../../../src/errors.ts';

const TINY = join(import.meta.dirname, '../../fixtures/blip-tiny');
const CAPTION = join(TINY, 'caption');

interface FixtureTokenizerConfig {
  model_max_length: number;
  added_tokens_decoder: Record<string, { content: string; special: boolean }>;
  [key: string]: unknown;
}

let scratch: string;
let counter = 0;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tokenizer-files-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh checkpoint folder with the given files (contents as text or JSON values). */
async function folder(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(scratch, `case-${counter++}-`));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

async function fixtureText(name: string): Promise<string> {
  return readFile(join(CAPTION, name), 'utf8');
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(ErrorCode.INVALID_CHECKPOINT);
  return error as ServiceError;
}

describe('readTokenizerJson from the slow tokenizer files', () => {
  it('builds BertConverter-style JSON from the blip-tiny vocab.txt + tokenizer_config.json', async () => {
    const { json, maxLength } = await readTokenizerJson(CAPTION);
    const config = JSON.parse(await fixtureText('tokenizer_config.json')) as FixtureTokenizerConfig;
    const vocabLines = (await fixtureText('vocab.txt')).split('\n').filter((line, i, all) => i < all.length - 1 || line !== '');

    expect(maxLength).toBe(config.model_max_length);
    expect(Object.keys(json.model.vocab)).toHaveLength(vocabLines.length);
    vocabLines.forEach((token, id) => expect(json.model.vocab[token]).toBe(id));
    expect(json.model).toMatchObject({ type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 });
    expect(json.normalizer).toEqual({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true });
    expect(json.pre_tokenizer).toEqual({ type: 'BertPreTokenizer' });
    expect(json.decoder).toEqual({ type: 'WordPiece', prefix: '##', cleanup: true });
    expect(json.post_processor).toMatchObject({
      type: 'TemplateProcessing',
      special_tokens: { '[CLS]': { ids: [2] }, '[SEP]': { ids: [3] } },
    });
    // Exactly the added_tokens_decoder of tokenizer_config.json, every one special.
    expect(json.added_tokens.map((t) => [t.id, t.content, t.special])).toEqual(
      Object.entries(config.added_tokens_decoder).map(([id, t]) => [Number(id), t.content, t.special]),
    );
    expect(json.tokenizer_config).toEqual({
      model_max_length: config.model_max_length,
      clean_up_tokenization_spaces: true,
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      mask_token: '[MASK]',
      bos_token: '[DEC]',
      eos_token: null,
      additional_special_tokens: ['[ENC]'],
    });
  });

  it('gives the same tokenizer from the legacy layout (added_tokens.json + special_tokens_map.json, no added_tokens_decoder)', async () => {
    const modern = await readTokenizerJson(CAPTION);
    const { added_tokens_decoder: _decoder, ...legacyConfig } = JSON.parse(await fixtureText('tokenizer_config.json')) as FixtureTokenizerConfig;
    const dir = await folder({
      'vocab.txt': await fixtureText('vocab.txt'),
      'tokenizer_config.json': legacyConfig,
      'added_tokens.json': await fixtureText('added_tokens.json'),
      'special_tokens_map.json': await fixtureText('special_tokens_map.json'),
    });
    const legacy = await readTokenizerJson(dir);
    expect(legacy.json.added_tokens).toEqual(modern.json.added_tokens);
    expect(legacy.json.tokenizer_config).toEqual(modern.json.tokenizer_config);
    expect(legacy.maxLength).toBe(modern.maxLength);
  });

  it('reads vocab.txt with CRLF line ends as Python does (universal newlines)', async () => {
    const dir = await folder({ 'vocab.txt': (await fixtureText('vocab.txt')).replaceAll('\n', '\r\n') });
    const { json } = await readTokenizerJson(dir);
    expect(json.model.vocab).toEqual((await readTokenizerJson(CAPTION)).json.model.vocab);
  });

  it("applies BertTokenizer's defaults when only vocab.txt is there: BERT specials, no length limit", async () => {
    const dir = await folder({ 'vocab.txt': await fixtureText('vocab.txt') });
    const { json, maxLength } = await readTokenizerJson(dir);
    expect(maxLength).toBe(Number.POSITIVE_INFINITY);
    expect(json.tokenizer_config.model_max_length).toBeNull();
    expect(json.added_tokens.map((t) => t.content)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(json.added_tokens.every((t) => t.special && !t.normalized)).toBe(true);
    // [DEC] is unknown here, so a generated 298 vanishes on decode (the Salesforce situation).
    const tokenizer = BlipTokenizer.fromJson(json);
    expect(tokenizer.decode([298, 15, 75, 18, 3])).toBe('a picture of');
  });

  it("reads transformers' int(1e30) model_max_length as no limit, and tokenizer options from the config", async () => {
    const dir = await folder({
      'vocab.txt': await fixtureText('vocab.txt'),
      'tokenizer_config.json': { model_max_length: 1e30, do_lower_case: false, strip_accents: true, tokenize_chinese_chars: false },
    });
    const { json, maxLength } = await readTokenizerJson(dir);
    expect(maxLength).toBe(Number.POSITIVE_INFINITY);
    expect(json.normalizer).toEqual({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: true, lowercase: false });
  });
});

describe('readTokenizerJson with a tokenizer.json', () => {
  it('uses tokenizer.json and merges the added tokens that only tokenizer_config.json declares', async () => {
    const built = (await readTokenizerJson(CAPTION)).json;
    const { tokenizer_config: _settings, ...fast } = built;
    // A tokenizer.json that knows the five BERT specials only, next to the fixture's tokenizer_config.json.
    const bertOnly = { ...fast, added_tokens: fast.added_tokens.filter((t) => t.id < 5) };
    const dir = await folder({
      'tokenizer.json': bertOnly,
      'tokenizer_config.json': await fixtureText('tokenizer_config.json'),
      'special_tokens_map.json': await fixtureText('special_tokens_map.json'),
    });
    const { json, maxLength } = await readTokenizerJson(dir);
    expect(json.added_tokens).toEqual(built.added_tokens);
    expect(json.model.vocab).toEqual(built.model.vocab);
    expect(json.tokenizer_config).toEqual(built.tokenizer_config);
    expect(maxLength).toBe(built.tokenizer_config.model_max_length);
  });

  it('refuses a tokenizer.json that is not a BERT WordPiece tokenizer, naming the file', async () => {
    const { json } = await readTokenizerJson(CAPTION);
    const dir = await folder({ 'tokenizer.json': { ...json, model: { type: 'BPE', vocab: {}, merges: [] } } });
    const error = await rejection(readTokenizerJson(dir));
    expect(error.message).toBe(`${join(dir, 'tokenizer.json')}: Expected a WordPiece model (BERT's tokenizer) for model.type but received "BPE"`);
    const dir2 = await folder({ 'tokenizer.json': { ...json, normalizer: { type: 'NFKC' } } });
    expect((await rejection(readTokenizerJson(dir2))).message).toBe(
      `${join(dir2, 'tokenizer.json')}: Expected a BertNormalizer for normalizer.type but received "NFKC"`,
    );
  });
});

describe('readTokenizerJson errors', () => {
  it('names the directory and the files it looked for when there is no tokenizer', async () => {
    const dir = await folder({ 'tokenizer_config.json': { model_max_length: 512 } });
    const error = await rejection(readTokenizerJson(dir));
    expect(error.message).toBe(
      `${dir}: Expected a tokenizer (tokenizer.json, or vocab.txt with tokenizer_config.json) in this directory but found neither tokenizer.json nor vocab.txt`,
    );
  });

  it('names the file that is not valid JSON', async () => {
    const dir = await folder({ 'vocab.txt': '[PAD]\n[UNK]\n', 'tokenizer_config.json': '{"model_max_length": ' });
    const error = await rejection(readTokenizerJson(dir));
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'tokenizer_config.json').replaceAll('/', '\\/')}: Expected valid JSON but parsing failed`));
  });

  it.each([
    [{ tokenizer_class: 'GPT2Tokenizer' }, 'Expected "BertTokenizer" for tokenizer_class (BLIP uses BERT\'s WordPiece) but received "GPT2Tokenizer"'],
    [{ do_basic_tokenize: false }, 'Expected do_basic_tokenize true (WordPiece without basic tokenization is not supported) but received false'],
    [{ never_split: ['[X]'] }, 'Expected never_split null or empty (not supported) but received ["[X]"]'],
    [{ model_max_length: 0 }, 'Expected a positive integer for model_max_length but received 0'],
    [{ strip_accents: 'yes' }, 'Expected null or a boolean for strip_accents but received "yes"'],
  ])('refuses tokenizer_config.json %j', async (config, message) => {
    const dir = await folder({ 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n', 'tokenizer_config.json': config });
    expect((await rejection(readTokenizerJson(dir))).message).toBe(`${join(dir, 'tokenizer_config.json')}: ${message}`);
  });

  it('appends named special tokens missing from the vocabulary with the next free ids, as transformers does', async () => {
    const dir = await folder({ 'vocab.txt': '[PAD]\n[UNK]\n[SEP]\nhello\n', 'special_tokens_map.json': { cls_token: '<s>', bos_token: '[DEC]' } });
    const { json } = await readTokenizerJson(dir);
    expect(json.added_tokens.map((t) => [t.id, t.content])).toEqual([
      [0, '[PAD]'],
      [1, '[UNK]'],
      [2, '[SEP]'],
      [4, '[DEC]'],
      [5, '<s>'],
      [6, '[MASK]'],
    ]);
    expect(BlipTokenizer.fromJson(json).encode('hello')).toEqual([5, 3, 2]);
  });
});
