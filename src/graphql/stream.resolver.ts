import { Arg, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { OperationName } from '../gateway/request-record.ts';
import type { InferenceRequests } from '../gateway/requests.ts';
import type { StreamEvent } from '../gateway/stream-events.ts';
import { AnswerInput } from './answer.input.ts';
import { CaptionInput } from './caption.input.ts';
import type { GatewayContext } from './context.ts';
import { createEventSource, type StreamPayload } from './event-source.ts';
import { AnswerStreamEvent, CaptionStreamEvent, toAnswerStreamEvent, toCaptionStreamEvent } from './stream-event.type.ts';

type SubscribeData = SubscribeResolverData<unknown, { input: unknown }, GatewayContext>;

/**
 * Streamed captions and answers, served over graphql-ws (/graphql) and graphql-sse (/graphql/stream). Each takes
 * the input of its mutation and sends the text after each decode step, then a last event with the mutation's result.
 * Errors arrive as a GraphQL error in an event, with the mutation's `extensions.code`; the stream then completes.
 */
@Resolver()
export class StreamResolver {
  constructor(private readonly requests: InferenceRequests) {}

  @Subscription(() => CaptionStreamEvent, {
    description: 'Captions one image, sending the caption as it is generated. Greedy decoding sends every step; beam search sends the best hypothesis so far.',
    subscribe: (data: SubscribeData) => resolverOf(data).captionEvents(data.args.input as CaptionInput, data.context),
  })
  captionStream(@Root() payload: StreamPayload, @Arg('input', () => CaptionInput) _input: CaptionInput): CaptionStreamEvent {
    return toCaptionStreamEvent(eventOf(payload));
  }

  @Subscription(() => AnswerStreamEvent, {
    description: 'Answers one question about one image, sending the answer as it is generated.',
    subscribe: (data: SubscribeData) => resolverOf(data).answerEvents(data.args.input as AnswerInput, data.context),
  })
  answerStream(@Root() payload: StreamPayload, @Arg('input', () => AnswerInput) _input: AnswerInput): AnswerStreamEvent {
    return toAnswerStreamEvent(eventOf(payload));
  }

  captionEvents(input: CaptionInput, context: GatewayContext): AsyncIterableIterator<StreamPayload> {
    const { model, image, prompt, options, timeoutMs } = input;
    return this.events('captionStream', context, prompt, (signal) => this.requests.captionStream({ model, image, prompt, options, timeoutMs, signal }));
  }

  answerEvents(input: AnswerInput, context: GatewayContext): AsyncIterableIterator<StreamPayload> {
    const { model, image, question, options, timeoutMs } = input;
    return this.events('answerStream', context, undefined, (signal) => this.requests.answerStream({ model, image, question, options, timeoutMs, signal }));
  }

  // Private: the per-client subscription bound is taken here, at subscribe time, and given back when the stream ends.
  private events(operation: OperationName, context: GatewayContext, prompt: string | null | undefined, open: (signal: AbortSignal) => AsyncIterable<StreamEvent>): AsyncIterableIterator<StreamPayload> {
    const release = context.startSubscription?.() ?? (() => undefined);
    const tracker = context.record.begin(operation);
    return createEventSource(open, context.signal, (outcome) => {
      release();
      if (outcome.kind === 'done') tracker.served(outcome.event.result);
      else if (outcome.kind === 'failed') tracker.failed(outcome.error);
      else tracker.failed(new ServiceError(ErrorCode.CANCELLED, 'The client ended the subscription'));
      tracker.end();
    });
  }
}

function resolverOf({ source, args, context, info }: SubscribeData): StreamResolver {
  return context.container.get(StreamResolver, { root: source, args, context, info }) as StreamResolver;
}

function eventOf(payload: StreamPayload): StreamEvent {
  if ('error' in payload) throw payload.error;
  return payload.event;
}
