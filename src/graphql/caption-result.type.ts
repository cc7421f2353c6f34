import { Field, Int, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';
import { Timings, toTimings } from './timings.type.ts';

@ObjectType('CaptionResult')
export class CaptionResult {
  @Field(() => String, { description: 'The caption (it starts with the prompt when one was given, as in transformers).' })
  caption!: string;

  @Field(() => String, { description: 'The canonical name of the variant that served the request.' })
  model!: string;

  @Field(() => Timings)
  timings!: Timings;

  @Field(() => Int, { description: 'The most decoder rows (requests × beams) that shared a decode step with this request.' })
  batchSize!: number;

  @Field(() => [Int], { description: 'Token ids of the decoder sequence ([DEC], prompt, generated tokens).' })
  sequence!: number[];
}

export function toCaptionResult(served: ServedResult): CaptionResult {
  return { caption: served.text, model: served.variant, timings: toTimings(served), batchSize: served.batchSize, sequence: served.sequence };
}
