import { Field, Int, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';
import { ServedFields, toServedFields } from './served-result.type.ts';

@ObjectType('CaptionResult')
export class CaptionResult extends ServedFields {
  @Field(() => String, { description: 'The caption (it starts with the prompt when one was given, as in transformers).' })
  caption!: string;

  @Field(() => [Int], { description: 'Token ids of the decoder sequence ([DEC], prompt, generated tokens).' })
  sequence!: number[];
}

export function toCaptionResult(served: ServedResult): CaptionResult {
  return { caption: served.text, ...toServedFields(served), sequence: served.sequence };
}
