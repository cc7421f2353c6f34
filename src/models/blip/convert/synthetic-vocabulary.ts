import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlipTextConfig } from '../checkpoint/blip-config.ts';

/**
 * A stand-in tokenizer for models built with random weights (benchmarks), where no real vocabulary is at hand:
 * `vocab.txt` with the special tokens at the ids the config names ([PAD], [SEP], [DEC] = bos) and BERT's usual ids for
 * [UNK] [CLS] [MASK] when they fit, every other id a placeholder word `w<id>`. Enough to encode prompts and questions
 * made of those words and to decode any generated id.
 */
export async function writeSyntheticVocabulary(dir: string, text: BlipTextConfig): Promise<void> {
  const size = text.vocabSize;
  const tokens: (string | undefined)[] = new Array(size);
  const place = (token: string, preferred: number[]): void => {
    const id = [...preferred, ...Array.from({ length: size }, (_, i) => i)].find((i) => i >= 0 && i < size && tokens[i] === undefined);
    if (id === undefined) throw new Error(`vocabulary of ${size} ids has no room for ${token}`);
    tokens[id] = token;
  };
  place('[PAD]', [text.padTokenId]);
  place('[SEP]', [text.sepTokenId]);
  place('[DEC]', [text.bosTokenId]);
  place('[UNK]', [100, 1]);
  place('[CLS]', [101, 2]);
  place('[MASK]', [103, 4]);
  place('[ENC]', [text.bosTokenId + 1]);
  for (let i = 0; i < size; i++) tokens[i] ??= `w${i}`;

  // [DEC] and [ENC] are added tokens, as BLIP adds them to bert-base-uncased; they must follow the base vocabulary.
  const decId = tokens.indexOf('[DEC]');
  const encId = tokens.indexOf('[ENC]');
  const baseSize = Math.min(decId, encId);
  const base = tokens.slice(0, baseSize);
  const added = tokens.slice(baseSize);
  if (added.some((t) => t !== '[DEC]' && t !== '[ENC]')) {
    // The bos id sits inside the vocabulary: keep everything in vocab.txt and declare the two as added specials.
    await write(dir, tokens as string[], {});
  } else {
    await write(dir, base as string[], Object.fromEntries(added.map((t, i) => [t as string, baseSize + i])));
  }
}

async function write(dir: string, vocab: string[], addedTokens: Record<string, number>): Promise<void> {
  await writeFile(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  await writeFile(join(dir, 'added_tokens.json'), JSON.stringify(addedTokens));
  await writeFile(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({ bos_token: '[DEC]', additional_special_tokens: ['[ENC]'], cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }),
  );
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      do_basic_tokenize: true,
      tokenize_chinese_chars: true,
      strip_accents: null,
      model_max_length: 512,
      bos_token: '[DEC]',
      additional_special_tokens: ['[ENC]'],
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      mask_token: '[MASK]',
    }),
  );
}
