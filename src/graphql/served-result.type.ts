import { Field, Int, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';
import { Timings, toTimings } from './timings.type.ts';

/** The fields every inference result carries, whatever the task. No field returns this type, so it stays out of the schema. */
@ObjectType()
export abstract class ServedFields {
  @Field(() => String, { description: 'The canonical name of the variant that served the request.' })
  model!: string;

  @Field(() => Timings)
  timings!: Timings;

  @Field(() => Int, { description: 'The most decoder rows (requests × beams) that shared a decode step with this request.' })
  batchSize!: number;
}

export function toServedFields(served: ServedResult): ServedFields {
  return { model: served.variant, timings: toTimings(served), batchSize: served.batchSize };
}
