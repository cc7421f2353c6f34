import { Query, Resolver } from 'type-graphql';
import type { Config } from '../config/config.ts';
import { Limits } from './limits.type.ts';

@Resolver()
export class LimitsResolver {
  constructor(private readonly config: Config) {}

  @Query(() => Limits, { description: 'The limits this server enforces.' })
  limits(): Limits {
    const { limits, imageStore, imageFetch } = this.config;
    return {
      maxBodyBytes: limits.bodyBytes,
      maxImageBytes: limits.image.maxBytes,
      maxImagePixels: limits.image.maxPixels,
      maxQuestionChars: limits.questionChars,
      maxPromptChars: limits.promptChars,
      maxBatchItems: limits.batchItems,
      maxQueryDepth: limits.queryDepth,
      maxQueryFields: limits.queryFields,
      imageTtlSeconds: Math.round(imageStore.ttlMs / 1000),
      imageUrlEnabled: imageFetch.allowedHosts.length > 0,
    };
  }
}
