import { Field, InputType, Int } from 'type-graphql';
import { GenerationOptionsInput } from './generation-options.input.ts';
import { ImageInput } from './image.input.ts';

@InputType('CaptionInput')
export class CaptionInput {
  @Field(() => ImageInput)
  image!: ImageInput;

  @Field(() => String, { nullable: true, description: 'Variant name or alias; unset = the default caption variant.' })
  model?: string | null;

  @Field(() => String, { nullable: true, description: 'Text the caption starts with (conditional captioning), e.g. "a picture of".' })
  prompt?: string | null;

  @Field(() => GenerationOptionsInput, { nullable: true })
  options?: GenerationOptionsInput | null;

  @Field(() => Int, { nullable: true, description: 'Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds (1..600000).' })
  timeoutMs?: number | null;
}
