import type { GenerationOptions } from '../generation/options.ts';
import type { InferenceService, ServedResult } from '../batching/types.ts';
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
  const prepareCaption = async (call: CaptionCall): Promise<PreparedRequest> => {
    const model = call.model ?? undefined;
    registry.resolve(model, 'caption');
    const prompt = call.prompt ?? undefined;
    if (prompt !== undefined && prompt.length > limits.promptChars) {
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected a prompt of at most ${limits.promptChars} characters but received ${prompt.length}`, {
        details: { field: 'prompt', chars: prompt.length, maxChars: limits.promptChars },
      });
    }
    const image = await loadImage(call.image);
    const { options, timeoutMs, signal } = call;
    return { run: () => inference.caption({ model, image, prompt, options: options ?? undefined, timeoutMs: timeoutMs ?? undefined, signal }) };
  };

  const prepareAnswer = async (call: AnswerCall): Promise<PreparedRequest> => {
    const model = call.model ?? undefined;
    registry.resolve(model, 'vqa');
    checkQuestion(call.question, limits.questionChars);
    const image = await loadImage(call.image);
    const { question, options, timeoutMs, signal } = call;
    return { run: () => inference.answer({ model, image, question, options: options ?? undefined, timeoutMs: timeoutMs ?? undefined, signal }) };
  };

  return {
    prepareCaption,
    prepareAnswer,
    caption: async (call) => (await prepareCaption(call)).run(),
    answer: async (call) => (await prepareAnswer(call)).run(),
    // Provisional until the engine sends token events across the worker boundary: the final event only.
    captionStream: (call) => finalOnly(() => prepareCaption(call)),
    answerStream: (call) => finalOnly(() => prepareAnswer(call)),
  };
}

async function* finalOnly(prepare: () => Promise<PreparedRequest>): AsyncGenerator<StreamEvent> {
  const result = await (await prepare()).run();
  yield { done: true, text: result.text, delta: result.text, result };
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
 * A question must have text and at most `maxChars` characters (QUESTION_TOO_LONG). The model's own limit, in
 * tokens, is checked by the pipeline after tokenizing, with the same code.
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
