import { Field, Float, InputType, Int } from 'type-graphql';

@InputType('GenerationOptionsInput', {
  description:
    "Decoding options (transformers' GenerationConfig names). Unset fields take the variant's defaults. Lengths count tokens of the decoder sequence, [DEC] and prompt included; maxNewTokens counts generated tokens only and wins over maxLength. Out-of-range values are refused with BAD_USER_INPUT.",
})
export class GenerationOptionsInput {
  @Field(() => Int, { nullable: true, description: 'Beam search width; 1 = greedy. 1..16.' })
  numBeams?: number | null;

  @Field(() => Int, { nullable: true, description: "Longest sequence, prompt included. 1..the model's position limit." })
  maxLength?: number | null;

  @Field(() => Int, { nullable: true, description: "Shortest sequence, prompt included. 0..the model's position limit." })
  minLength?: number | null;

  @Field(() => Int, { nullable: true, description: 'Most generated tokens (overrides maxLength).' })
  maxNewTokens?: number | null;

  @Field(() => Float, { nullable: true, description: 'Penalty for tokens already in the sequence; 1 = none. (0, 100].' })
  repetitionPenalty?: number | null;

  @Field(() => Float, { nullable: true, description: 'Beam search length penalty exponent. [-10, 10].' })
  lengthPenalty?: number | null;
}
