import type { GenerationOptions } from '../generation/options.ts';
import type { InferenceCall, InferenceService, ServedResult } from '../batching/types.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ModelRegistry } from '../registry/types.ts';
import type { ImageLoader, ImageSource } from '../upload/image-source.ts';
import type { StreamEvent } from './stream-events.ts';

export interface CaptionCall {
  model?: string | null;
  image: ImageSource;
  prompt?: string | null;
  options?: GenerationOptions | null;
  timeoutMs?: number | null;
  signal?: AbortSignal;
}

export interface AnswerCall {
  model?: string | null;
  image: ImageSource;
  question: string;
  options?: GenerationOptions | null;
  timeoutMs?: number | null;
  signal?: AbortSignal;
}

export interface TextLimits {
  questionChars: number;
  promptChars: number;
}

/** A request whose checks passed and whose image is read: `run()` hands it to the engine. */
export interface PreparedRequest {
  run(): Promise<ServedResult>;
}

/** What the GraphQL resolvers and the REST route call: one caption or answer, from client input to a served result. */
export interface InferenceRequests {
  caption(call: CaptionCall): Promise<ServedResult>;
  answer(call: AnswerCall): Promise<ServedResult>;
  /**
   * The checks and the image reading of `caption`, without submitting. A batch prepares all its items, then runs
   * the prepared ones together, so that they reach the engine in the same tick and share a model pass even when
   * their images arrive at different times (uploads, downloads).
   */
  prepareCaption(call: CaptionCall): Promise<PreparedRequest>;
  prepareAnswer(call: AnswerCall): Promise<PreparedRequest>;
  /**
   * The same request as `caption`, streamed: the text so far after each decode step, then the final event with the
   * result. Checks run before the first event (a bad request throws from the first `next()`); aborting `call.signal`
   * (or leaving the loop) makes the item's rows leave the decode batch at the next step.
   */
  captionStream(call: CaptionCall): AsyncIterable<StreamEvent>;
  answerStream(call: AnswerCall): AsyncIterable<StreamEvent>;
}

/**
 * The steps every inference request takes before the engine sees it, cheapest first: resolve the variant (unknown
 * name, wrong task, not installed), check the text, then read the image (which may mean a download). Generation
 * options are validated by the pipeline against the variant's own limits (src/generation/options.ts).
 */
export function createInferenceRequests(registry: ModelRegistry, inference: InferenceService, loadImage: ImageLoader, limits: TextLimits): InferenceRequests {
  /** Every check the gateway owns, once per item, cheapest first; then the image is read. */
  const prepare = async (kind: 'caption' | 'answer', call: CaptionCall | AnswerCall): Promise<InferenceCall> => {
    const variant = registry.resolve(call.model ?? undefined, kind === 'caption' ? 'caption' : 'vqa');
    let text: string | undefined;
    if (kind === 'caption') {
      text = (call as CaptionCall).prompt ?? undefined;
      if (text !== undefined && text.length > limits.promptChars) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected a prompt of at most ${limits.promptChars} characters but received ${text.length}`, {
          details: { field: 'prompt', chars: text.length, maxChars: limits.promptChars },
        });
      }
    } else {
      text = (call as AnswerCall).question;
      checkQuestion(text, limits.questionChars);
    }
    const image = await loadImage(call.image);
    return { variant, kind, image, text, options: call.options ?? undefined, timeoutMs: call.timeoutMs ?? undefined, signal: call.signal };
  };
  const prepared = async (kind: 'caption' | 'answer', call: CaptionCall | AnswerCall): Promise<PreparedRequest> => {
    const ready = await prepare(kind, call);
    return { run: () => inference.run(ready) };
  };

  return {
    prepareCaption: (call) => prepared('caption', call),
    prepareAnswer: (call) => prepared('answer', call),
    caption: async (call) => inference.run(await prepare('caption', call)),
    answer: async (call) => inference.run(await prepare('answer', call)),
    captionStream: (call) => streamText(() => prepare('caption', call), inference),
    answerStream: (call) => streamText(() => prepare('answer', call), inference),
  };
}

/**
 * A served stream as clients see it: `text` is the whole text so far and `delta` what it added to the previous
 * event's text. When the text is not an extension of the previous one (beam search changed its best hypothesis),
 * `delta` is the whole new text: clients show `text`, and may append `delta` only while it grows.
 */
async function* streamText(prepare: () => Promise<InferenceCall>, inference: InferenceService): AsyncGenerator<StreamEvent> {
  const call = await prepare();
  let previous = '';
  const deltaOf = (text: string) => (text.startsWith(previous) ? text.slice(previous.length) : text);
  for await (const event of inference.stream(call)) {
    if (event.type === 'error') throw event.error;
    if (event.type === 'token') {
      if (event.text === previous) continue;
      const delta = deltaOf(event.text);
      previous = event.text;
      yield { done: false, text: event.text, delta };
      continue;
    }
    const { result } = event;
    yield { done: true, text: result.text, delta: deltaOf(result.text), result };
    return;
  }
}

/**
 * Runs prepared requests together: waits until every item is prepared (or failed), then submits all the prepared
 * ones in the same tick. One promise per item, in order; a failed item rejects alone.
 */
export function runTogether(items: ReadonlyArray<Promise<PreparedRequest>>): Array<Promise<ServedResult>> {
  const settled = Promise.allSettled(items);
  return items.map((_, i) =>
    settled.then((results) => {
      const result = results[i];
      return result.status === 'fulfilled' ? result.value.run() : Promise.reject(result.reason);
    }),
  );
}

/**
 * A question must have text and at most `maxChars` characters (QUESTION_TOO_LONG): the gateway owns the request's
 * shape. The model's own limit, in tokens, is the family runtime's (checked once, after tokenizing, same code).
 */
export function checkQuestion(question: unknown, maxChars: number): asserts question is string {
  if (typeof question !== 'string' || question.trim() === '') {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected a non-empty question', { details: { field: 'question' } });
  }
  if (question.length > maxChars) {
    throw new ServiceError(ErrorCode.QUESTION_TOO_LONG, `The question is ${question.length} characters long; this server accepts at most ${maxChars}`, {
      details: { chars: question.length, maxChars },
    });
  }
}
