import type { AnswerItem, CaptionItem, ItemKind } from '../../../backend/items.ts';
import { ErrorCode, ServiceError } from '../../../errors.ts';
import { planSearch, resolveGenerationOptions } from '../../../generation/generate.ts';
import type { VariantManifest } from '../../../variant/manifest.ts';
import type { BlipTokenizer } from '../runtime/tokenizer.ts';
import type { JobPlan } from './job.ts';

export const MAX_BEAMS = 16;

/**
 * The model's own limits on an item, checked once before it is queued: generation options against the variant's
 * position table and beam limit, the prompt's length, and a question's length in tokens (QUESTION_TOO_LONG). The
 * request's shape (a non-empty question, characters) and its task were checked by the gateway, which owns them.
 */
export function planRequest(manifest: VariantManifest, tokenizer: BlipTokenizer, kind: ItemKind, item: CaptionItem | AnswerItem): JobPlan {
  const { prompt, question } = textOf(manifest, tokenizer, kind, item);
  const { dims, generation, tokenizer: ids } = manifest;
  const options = resolveGenerationOptions(item.options ?? {}, generation, { maxPositions: dims.maxPositions, maxBeams: MAX_BEAMS });
  const request = { prompt, options, eosTokenId: ids.ids.sep, padTokenId: ids.ids.pad };
  // Validates the prompt length against the position table now, so a bad request never reaches the decoder.
  const plan = planSearch({ ...request, context: 0 }, dims.vocabSize);
  // transformers generates at least one token, even when the prompt already reaches max_length.
  return { request, numBeams: plan.numBeams, maxNewTokens: Math.max(1, plan.maxLength - plan.promptLength), question };
}

/** Decoder prompt and (VQA) question tokens, as transformers' processor builds them. */
function textOf(manifest: VariantManifest, tokenizer: BlipTokenizer, kind: ItemKind, item: CaptionItem | AnswerItem): { prompt: number[]; question: number[] | undefined } {
  // Not a user-facing check (the gateway resolved the variant for the item's task): an invariant of the callers.
  if ((kind === 'caption') !== (manifest.task === 'caption')) throw new Error(`a ${kind} item reached the ${manifest.task} variant ${manifest.name}`);
  const { bos } = manifest.tokenizer.ids;
  if (kind === 'caption') {
    const { prompt } = item as CaptionItem;
    // The processor's [CLS] prompt [SEP] becomes [DEC] prompt (first id replaced, last column dropped).
    return { prompt: prompt === undefined || prompt === '' ? [bos] : [bos, ...tokenizer.encode(prompt).slice(1, -1)], question: undefined };
  }
  // The question keeps [CLS] (transformers does not substitute [ENC]).
  const tokens = tokenizer.encode((item as AnswerItem).question);
  const maxQuestion = manifest.tokenizer.maxLength;
  if (tokens.length > maxQuestion) {
    throw new ServiceError(ErrorCode.QUESTION_TOO_LONG, `The question is ${tokens.length} tokens long; this model reads at most ${maxQuestion}`, {
      details: { tokens: tokens.length, maxTokens: maxQuestion },
    });
  }
  return { prompt: [bos], question: tokens };
}
