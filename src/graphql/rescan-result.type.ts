import { Field, ObjectType } from 'type-graphql';
import type { RescanResult as RegistryRescan } from '../registry/types.ts';

@ObjectType('RescanFailure', { description: 'A variant whose new version could not be taken; the old version stays.' })
export class RescanFailure {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType('RescanResult', { description: 'What rescanRegistry changed, by variant name.' })
export class RescanResult {
  @Field(() => [String])
  added!: string[];

  @Field(() => [String])
  removed!: string[];

  @Field(() => [String], { description: 'Variants now serving their new variant.json or manifest.' })
  updated!: string[];

  @Field(() => [String])
  unchanged!: string[];

  @Field(() => [RescanFailure])
  failed!: RescanFailure[];
}

export function toRescanResult(result: RegistryRescan, redact: (message: string) => string): RescanResult {
  return { ...result, failed: result.failed.map((failure) => ({ name: failure.name, message: redact(failure.message) })) };
}
