import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlipTokenizer } from '../../../../../src/models/blip/runtime/tokenizer.ts';
import { readTokenizerJson } from '../../../../../src/checkpoint/tokenizer-files.ts';
import { ErrorCode, ServiceError } from '../../../../../src/errors.ts';

const TINY = join(import.meta.dirname, '../../../../fixtures/blip-tiny');

interface TokenizerCases {
  encode: { text: string; tokens: string[]; input_ids: number[] }[];
  decode: { ids: number[]; skip_special_tokens_true: string; skip_special_tokens_false: string }[];
  vocab_size_incl_added: number;
}
const cases = JSON.parse(readFileSync(join(TINY, 'tokenizer_cases.json'), 'utf8')) as TokenizerCases;

async function tokenizerFrom(dir: string): Promise<BlipTokenizer> {
  const { json } = await readTokenizerJson(join(TINY, dir));
  // Through JSON text, as the runtime reads the converter's tokenizer.json.
  return BlipTokenizer.fromJson(JSON.parse(JSON.stringify(json)));
}

describe.each(['caption', 'vqa'])('BlipTokenizer from the blip-tiny %s vocab.txt files', async (dir) => {
  const tokenizer = await tokenizerFrom(dir);

  // The reference: transformers 4.36 slow BertTokenizer, tok(text) with add_special_tokens=True.
  it.each(cases.encode.map((c) => [JSON.stringify(c.text), c] as const))('encodes %s exactly', (_text, c) => {
    expect(tokenizer.encode(c.text)).toEqual(c.input_ids);
  });

  it.each(cases.decode.map((c) => [c.ids.join(','), c] as const))('decodes [%s] exactly, with and without special tokens', (_ids, c) => {
    expect(tokenizer.decode(c.ids)).toBe(c.skip_special_tokens_true);
    expect(tokenizer.decode(c.ids, { skipSpecialTokens: true })).toBe(c.skip_special_tokens_true);
    expect(tokenizer.decode(c.ids, { skipSpecialTokens: false })).toBe(c.skip_special_tokens_false);
  });

  it('exposes the special ids, the vocabulary and model_max_length from the files', () => {
    expect({ cls: tokenizer.clsId, sep: tokenizer.sepId, pad: tokenizer.padId, unk: tokenizer.unkId }).toEqual({ cls: 2, sep: 3, pad: 0, unk: 1 });
    expect(tokenizer.tokenToId('[DEC]')).toBe(298);
    expect(tokenizer.tokenToId('[ENC]')).toBe(cases.vocab_size_incl_added - 1);
    expect(tokenizer.tokenToId('picture')).toBe(75);
    expect(tokenizer.tokenToId('no-such-token')).toBeUndefined();
    const config = JSON.parse(readFileSync(join(TINY, dir, 'tokenizer_config.json'), 'utf8')) as { model_max_length: number };
    expect(tokenizer.maxLength).toBe(config.model_max_length);
  });

  // Every generated sequence of the reference runs, decoded by the reference processor both ways.
  it('decodes the caption and VQA outputs of the reference runs to the reference texts', () => {
    const caption = JSON.parse(readFileSync(join(TINY, 'caption/references.json'), 'utf8')) as {
      cases: { output_ids: number[][]; output_text: string[]; output_text_with_special: string[] }[];
    };
    const vqa = JSON.parse(readFileSync(join(TINY, 'vqa/references.json'), 'utf8')) as {
      cases: { answer_ids: number[][]; answer_text: string[]; answer_text_with_special: string[] }[];
    };
    const rows = [
      ...caption.cases.flatMap((c) => c.output_ids.map((ids, r) => [ids, c.output_text[r], c.output_text_with_special[r]] as const)),
      ...vqa.cases.flatMap((c) => c.answer_ids.map((ids, r) => [ids, c.answer_text[r], c.answer_text_with_special[r]] as const)),
    ];
    expect(rows.length).toBe(29);
    for (const [ids, text, withSpecial] of rows) {
      expect(tokenizer.decode(ids)).toBe(text);
      expect(tokenizer.decode(ids, { skipSpecialTokens: false })).toBe(withSpecial);
    }
  });

  it('encodes the questions of the reference VQA runs to the processor input ids', () => {
    const vqa = JSON.parse(readFileSync(join(TINY, 'vqa/references.json'), 'utf8')) as {
      cases: { questions: string[]; input_ids: number[][]; attention_mask: number[][] }[];
    };
    for (const c of vqa.cases) {
      c.questions.forEach((question, r) => {
        const length = c.attention_mask[r].reduce((a, b) => a + b, 0);
        expect(tokenizer.encode(question)).toEqual(c.input_ids[r].slice(0, length));
      });
    }
  });
});

describe('BlipTokenizer rules beyond the fixture cases', async () => {
  const tokenizer = await tokenizerFrom('caption');
  const words = (text: string): number[] => tokenizer.encode(text).slice(1, -1);

  it('lowercases character by character, so a word-final capital sigma becomes σ, not ς', async () => {
    // transformers lowercases one character at a time before splitting off special tokens; the library would
    // lowercase the whole string (final-sigma rule). Two Greek words are added to the vocabulary to see the difference.
    const { json } = await readTokenizerJson(join(TINY, 'caption'));
    json.model.vocab = { ...json.model.vocab, οδοσ: 400, οδος: 401 };
    const greek = BlipTokenizer.fromJson(json);
    expect(greek.encode('ΟΔΟΣ')).toEqual([2, 400, 3]);
    expect(greek.encode('οδος')).toEqual([2, 401, 3]);
  });

  it('splits CJK ideographs off, supplementary-plane ones included', () => {
    expect(words('a\u{20000}b')).toEqual(words('a \u{20000} b'));
    expect(words('a\u4e00b')).toEqual(words('a \u4e00 b'));
  });

  it('drops control, format and unassigned characters and treats other whitespace as a space', () => {
    expect(words('do\u0000g\u200b\u0378s')).toEqual(words('dogs'));
    expect(words('dog\u00a0cat\u3000red')).toEqual(words('dog cat red'));
  });

  it('composes (NFC) and then strips accents', () => {
    expect(words('cafe\u0301')).toEqual(words('café'));
    expect(words('café')).toEqual(words('cafe'));
  });

  it('keeps special tokens written in the text whole, and splits look-alikes', () => {
    expect(tokenizer.encode('a [SEP] b')).toEqual([2, ...words('a'), 3, ...words('b'), 3]);
    expect(words('[sep]')).toEqual(words('[ sep ]'));
  });

  it('turns a word of more than 100 characters into one [UNK]', () => {
    expect(words('a'.repeat(100))).not.toEqual([tokenizer.unkId]);
    expect(words('a'.repeat(101))).toEqual([tokenizer.unkId]);
  });

  it('drops ids that the tokenizer does not know (the Salesforce [DEC] = 30522 case)', () => {
    expect(tokenizer.decode([30522, 15, 75, 18, 3])).toBe(tokenizer.decode([15, 75, 18]));
    expect(tokenizer.decode([30522, 15, 75, 18, 3], { skipSpecialTokens: false })).toBe(tokenizer.decode([15, 75, 18, 3], { skipSpecialTokens: false }));
    expect(tokenizer.decode([-1, 1.5, Number.NaN])).toBe('');
  });

  it('accepts typed arrays of ids', () => {
    expect(tokenizer.decode(Int32Array.from([298, 15, 82, 254, 5, 3]))).toBe(tokenizer.decode([298, 15, 82, 254, 5, 3]));
  });

  it('round-trips encode → decode for lowercase words of the vocabulary', () => {
    expect(tokenizer.decode(tokenizer.encode('a picture of the dogs.'))).toBe('a picture of the dogs.');
  });
});

describe('BlipTokenizer.fromJson', async () => {
  const { json } = await readTokenizerJson(join(TINY, 'caption'));

  it('works from a plain tokenizer.json without the tokenizer_config key (BERT defaults, no length limit)', () => {
    const { tokenizer_config: _settings, ...plain } = json;
    const tokenizer = BlipTokenizer.fromJson(plain);
    expect(tokenizer.encode('a picture of')).toEqual([2, 15, 75, 18, 3]);
    expect(tokenizer.maxLength).toBe(Number.POSITIVE_INFINITY);
  });

  it.each([
    ['a non-object', 42, 'tokenizer.json: Expected an object for the tokenizer but received 42'],
    ['a BPE model', { ...json, model: { ...json.model, type: 'BPE' } }, 'tokenizer.json: Expected "WordPiece" for model.type but received "BPE"'],
    ['another normalizer', { ...json, normalizer: { type: 'NFC' } }, 'tokenizer.json: Expected "BertNormalizer" for normalizer.type but received "NFC"'],
    [
      'a cls token outside the vocabulary',
      { ...json, tokenizer_config: { ...json.tokenizer_config, cls_token: '<s>' } },
      'tokenizer.json: Expected a token of the vocabulary for tokenizer_config.cls_token but received "<s>"',
    ],
  ])('refuses %s as INVALID_VARIANT', (_what, value, message) => {
    let error: unknown;
    try {
      BlipTokenizer.fromJson(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe(ErrorCode.INVALID_VARIANT);
    expect((error as ServiceError).message).toBe(message);
  });
});
