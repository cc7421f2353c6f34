import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { ErrorCode, ServiceError } from '../errors.ts';
import { trackItem, type OperationTracker } from '../gateway/request-record.ts';
import { runTogether, type AnswerCall, type CaptionCall, type InferenceRequests } from '../gateway/requests.ts';
import { AnswerInput } from './answer.input.ts';
import { AnswerResult, toAnswerResult } from './answer-result.type.ts';
import { CaptionInput } from './caption.input.ts';
import { CaptionResult, toCaptionResult } from './caption-result.type.ts';
import type { GatewayContext } from './context.ts';

/**
 * The inference mutations. GraphQL executes the root fields of a mutation one after another, so several aliased
 * `caption` fields in one operation run in sequence and never share a model pass. The batch fields start all their
 * items at once and hand them to the engine together once every image is read, so that they share model passes; a
 * failed item is `null` with its own error at `["captionBatch", i]` while the other items succeed.
 */
@Resolver()
export class InferenceResolver {
  constructor(
    private readonly requests: InferenceRequests,
    private readonly maxBatchItems: number,
  ) {}

  @Mutation(() => CaptionResult, { description: 'Captions one image. To caption several images at once, use captionBatch.' })
  async caption(@Arg('input', () => CaptionInput) input: CaptionInput, @Ctx() context: GatewayContext): Promise<CaptionResult> {
    const tracker = context.record.begin('caption');
    try {
      return toCaptionResult(await trackItem(tracker, () => this.requests.caption(captionCall(input, context))));
    } finally {
      tracker.end();
    }
  }

  @Mutation(() => AnswerResult, { description: 'Answers one question about one image. For several questions at once, use answerBatch.' })
  async answer(@Arg('input', () => AnswerInput) input: AnswerInput, @Ctx() context: GatewayContext): Promise<AnswerResult> {
    const tracker = context.record.begin('answer');
    try {
      return toAnswerResult(await trackItem(tracker, () => this.requests.answer(answerCall(input, context))));
    } finally {
      tracker.end();
    }
  }

  @Mutation(() => [CaptionResult], {
    nullable: 'items',
    description:
      'Captions several images concurrently, so that the engine batches them. Results are in input order; a failed item is null and has its own error (path ["captionBatch", i]). At most `limits.maxBatchItems` items.',
  })
  captionBatch(@Arg('inputs', () => [CaptionInput]) inputs: CaptionInput[], @Ctx() context: GatewayContext): Array<Promise<CaptionResult>> {
    const tracker = context.record.begin('captionBatch');
    this.checkBatch(inputs.length, tracker);
    const prepared = inputs.map((input) => this.requests.prepareCaption(captionCall(input, context)));
    const served = runTogether(prepared).map((item) => trackItem(tracker, () => item));
    endWhenSettled(tracker, served);
    return served.map(async (item) => toCaptionResult(await item));
  }

  @Mutation(() => [AnswerResult], {
    nullable: 'items',
    description:
      'Answers several questions concurrently (about one image by imageId, or about several), so that the engine batches them. A failed item is null with its own error (path ["answerBatch", i]).',
  })
  answerBatch(@Arg('inputs', () => [AnswerInput]) inputs: AnswerInput[], @Ctx() context: GatewayContext): Array<Promise<AnswerResult>> {
    const tracker = context.record.begin('answerBatch');
    this.checkBatch(inputs.length, tracker);
    const prepared = inputs.map((input) => this.requests.prepareAnswer(answerCall(input, context)));
    const served = runTogether(prepared).map((item) => trackItem(tracker, () => item));
    endWhenSettled(tracker, served);
    return served.map(async (item) => toAnswerResult(await item));
  }

  private checkBatch(length: number, tracker: OperationTracker): void {
    if (length > this.maxBatchItems) {
      const error = new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected at most ${this.maxBatchItems} items for inputs but received ${length}`, {
        details: { field: 'inputs', items: length, maxItems: this.maxBatchItems },
      });
      tracker.failed(error);
      tracker.end();
      throw error;
    }
  }
}

function captionCall(input: CaptionInput, context: GatewayContext): CaptionCall {
  return { model: input.model, image: input.image, prompt: input.prompt, options: input.options, timeoutMs: input.timeoutMs, signal: context.signal };
}

function answerCall(input: AnswerInput, context: GatewayContext): AnswerCall {
  return { model: input.model, image: input.image, question: input.question, options: input.options, timeoutMs: input.timeoutMs, signal: context.signal };
}

function endWhenSettled(tracker: OperationTracker, items: ReadonlyArray<Promise<unknown>>): void {
  void Promise.allSettled(items).then(() => tracker.end());
}
