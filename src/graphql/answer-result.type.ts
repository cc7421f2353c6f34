import { Field, Int, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';
import { Timings, toTimings } from './timings.type.ts';

@ObjectType('AnswerResult')
export class AnswerResult {
  @Field(() => String, { description: 'The answer.' })
  answer!: string;

  @Field(() => String, { description: 'The canonical name of the variant that served the request.' })
  model!: string;

  @Field(() => Timings)
  timings!: Timings;

  @Field(() => Int, { description: 'The most decoder rows (requests × beams) that shared a decode step with this request.' })
  batchSize!: number;

  @Field(() => [Int], { description: 'Token ids of the generated answer ([BOS], tokens, [SEP]).' })
  sequence!: number[];
}

export function toAnswerResult(served: ServedResult): AnswerResult {
  return { answer: served.text, model: served.variant, timings: toTimings(served), batchSize: served.batchSize, sequence: served.sequence };
}
