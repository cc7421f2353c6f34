import { Field, ObjectType } from 'type-graphql';
import type { StreamEvent } from '../gateway/stream-events.ts';
import { AnswerResult, toAnswerResult } from './answer-result.type.ts';
import { CaptionResult, toCaptionResult } from './caption-result.type.ts';

const TEXT = 'The whole text decoded so far (with beam search: the current best hypothesis, which may still change).';
const DELTA = 'What this event added to the previous event\'s text (empty when nothing was added; after a beam-search step the text may be rewritten, so show `text` rather than appending deltas).';
const DONE = 'True on the last event only, which carries `result`.';

@ObjectType('CaptionStreamEvent', { description: 'One step of a streamed caption: the text so far, then a last event with the result.' })
export class CaptionStreamEvent {
  @Field(() => String, { description: TEXT })
  text!: string;

  @Field(() => String, { description: DELTA })
  delta!: string;

  @Field(() => Boolean, { description: DONE })
  done!: boolean;

  @Field(() => CaptionResult, { nullable: true, description: 'On the last event: what the `caption` mutation returns for the same input (its `caption` equals `text`).' })
  result!: CaptionResult | null;
}

@ObjectType('AnswerStreamEvent', { description: 'One step of a streamed answer: the text so far, then a last event with the result.' })
export class AnswerStreamEvent {
  @Field(() => String, { description: TEXT })
  text!: string;

  @Field(() => String, { description: DELTA })
  delta!: string;

  @Field(() => Boolean, { description: DONE })
  done!: boolean;

  @Field(() => AnswerResult, { nullable: true, description: 'On the last event: what the `answer` mutation returns for the same input (its `answer` equals `text`).' })
  result!: AnswerResult | null;
}

export function toCaptionStreamEvent(event: StreamEvent): CaptionStreamEvent {
  return { text: event.text, delta: event.delta, done: event.done, result: event.done ? toCaptionResult(event.result) : null };
}

export function toAnswerStreamEvent(event: StreamEvent): AnswerStreamEvent {
  return { text: event.text, delta: event.delta, done: event.done, result: event.done ? toAnswerResult(event.result) : null };
}
