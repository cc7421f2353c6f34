import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlipTokenizer } from '../models/blip/runtime/tokenizer.ts';
import type { ServedItem } from '../gateway/request-record.ts';

/**
 * Generated tokens of a served item: its sequence is [DEC], the prompt's tokens, then what the model generated, so
 * the count is the sequence's length minus one, minus the prompt's tokens when a caption had a prompt. The prompt is
 * tokenized with the variant's own tokenizer.json (loaded once per variant); if that fails, the prompt is not
 * subtracted.
 */
export function createTokenCounter(directoryOf: (variant: string) => string | undefined): (item: ServedItem) => Promise<number> {
  const tokenizers = new Map<string, Promise<BlipTokenizer | null>>();
  const tokenizerFor = (variant: string): Promise<BlipTokenizer | null> => {
    let tokenizer = tokenizers.get(variant);
    if (!tokenizer) {
      const dir = directoryOf(variant);
      tokenizer = dir === undefined ? Promise.resolve(null) : readFile(join(dir, 'tokenizer.json'), 'utf8').then((text) => BlipTokenizer.fromJson(JSON.parse(text)), () => null);
      tokenizers.set(variant, tokenizer);
    }
    return tokenizer;
  };
  return async function countGenerated(item: ServedItem): Promise<number> {
    let promptTokens = 0;
    if (item.prompt !== undefined && item.prompt !== '') {
      const tokenizer = await tokenizerFor(item.variant);
      // encode() adds [CLS] … [SEP]; the sequence holds the prompt between them, after [DEC].
      if (tokenizer) promptTokens = Math.max(0, tokenizer.encode(item.prompt).length - 2);
    }
    return Math.max(0, item.sequenceLength - 1 - promptTokens);
  };
}
