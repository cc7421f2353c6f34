import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('Limits', { description: 'The limits this server enforces (configured at start-up).' })
export class Limits {
  @Field(() => GraphQLSafeInt, { description: 'Largest request body in bytes (JSON or multipart).' })
  maxBodyBytes!: number;

  @Field(() => GraphQLSafeInt, { description: 'Largest image file in bytes.' })
  maxImageBytes!: number;

  @Field(() => GraphQLSafeInt, { description: 'Most pixels (width × height) of an image.' })
  maxImagePixels!: number;

  @Field(() => Int, { description: 'Longest question in characters.' })
  maxQuestionChars!: number;

  @Field(() => Int, { description: 'Longest caption prompt in characters.' })
  maxPromptChars!: number;

  @Field(() => Int, { description: 'Most items in one captionBatch or answerBatch.' })
  maxBatchItems!: number;

  @Field(() => Int, { description: 'Deepest selection of an operation.' })
  maxQueryDepth!: number;

  @Field(() => Int, { description: 'Most fields (aliases included) in an operation.' })
  maxQueryFields!: number;

  @Field(() => Int, { description: 'How long an uploaded image is kept after its last use, in seconds.' })
  imageTtlSeconds!: number;

  @Field(() => Boolean, { description: 'Can images be fetched by url?' })
  imageUrlEnabled!: boolean;
}
