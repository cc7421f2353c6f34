import { Arg, Query, Resolver } from 'type-graphql';
import type { InstallJobs } from '../hub/install-jobs.ts';
import type { ModelRegistry } from '../registry/types.ts';
import { Model, toModel } from './model.type.ts';

@Resolver()
export class ModelResolver {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly redact: (message: string) => string,
    private readonly installs?: InstallJobs,
  ) {}

  @Query(() => [Model], { description: 'Every variant in the registry, installed or not, sorted by name.' })
  models(): Model[] {
    return this.registry.list().map((info) => toModel(info, this.redact, this.installs?.status(info.name)));
  }

  @Query(() => Model, { nullable: true, description: 'A variant by name or alias (case-sensitive); null when there is none.' })
  model(@Arg('name', () => String) name: string): Model | null {
    const info = this.registry.find(name);
    return info ? toModel(info, this.redact, this.installs?.status(info.name)) : null;
  }
}
