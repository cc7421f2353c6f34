import { Field, Int, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';
import { ServedFields, toServedFields } from './served-result.type.ts';

@ObjectType('AnswerResult')
export class AnswerResult extends ServedFields {
  @Field(() => String, { description: 'The answer.' })
  answer!: string;

  @Field(() => [Int], { description: 'Token ids of the generated answer ([BOS], tokens, [SEP]).' })
  sequence!: number[];
}

export function toAnswerResult(served: ServedResult): AnswerResult {
  return { answer: served.text, ...toServedFields(served), sequence: served.sequence };
}
