import { Field, Float, ObjectType } from 'type-graphql';
import type { ServedResult } from '../batching/types.ts';

@ObjectType('Timings', {
  description:
    'Milliseconds spent on a result. preprocess, encode and decode are those of the batched model pass the item was part of (shared by its batch).',
})
export class Timings {
  @Field(() => Float, { description: 'Waiting for a batch and a free model.' })
  queueMs!: number;

  @Field(() => Float, { description: 'Decoding and resizing the images, tokenizing.' })
  preprocessMs!: number;

  @Field(() => Float, { description: 'Vision encoder (and question encoder for VQA).' })
  encodeMs!: number;

  @Field(() => Float, { description: 'Token generation.' })
  decodeMs!: number;

  @Field(() => Float, { description: 'queue + preprocess + encode + decode: the time inside the engine.' })
  totalMs!: number;
}

export function toTimings(served: ServedResult): Timings {
  const { queueMs, preprocessMs, encodeMs, decodeMs } = served.timings;
  return { queueMs, preprocessMs, encodeMs, decodeMs, totalMs: queueMs + preprocessMs + encodeMs + decodeMs };
}
