import { Field, InputType, Int } from 'type-graphql';
import { GenerationOptionsInput } from './generation-options.input.ts';
import { ImageInput } from './image.input.ts';

@InputType('AnswerInput')
export class AnswerInput {
  @Field(() => ImageInput)
  image!: ImageInput;

  @Field(() => String, { nullable: true, description: 'Variant name or alias; unset = the default VQA variant.' })
  model?: string | null;

  @Field(() => String, { description: 'The question about the image.' })
  question!: string;

  @Field(() => GenerationOptionsInput, { nullable: true })
  options?: GenerationOptionsInput | null;

  @Field(() => Int, { nullable: true, description: 'Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds (1..600000).' })
  timeoutMs?: number | null;
}
