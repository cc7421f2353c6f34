import { createHash, timingSafeEqual } from 'node:crypto';
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ManagedRegistry } from '../registry/types.ts';
import type { GatewayContext } from './context.ts';
import { Model, toModel } from './model.type.ts';
import { RescanResult, toRescanResult } from './rescan-result.type.ts';

/**
 * Operator mutations, allowed only with the `x-admin-key` header equal to ADMIN_API_KEY. Without a configured key
 * they are disabled (FORBIDDEN); a missing or wrong key is UNAUTHENTICATED.
 */
@Resolver()
export class AdminResolver {
  private readonly keyDigest: Buffer | undefined;

  constructor(
    private readonly registry: ManagedRegistry,
    adminApiKey: string | undefined,
    private readonly redact: (message: string) => string,
  ) {
    this.keyDigest = adminApiKey === undefined ? undefined : digest(adminApiKey);
  }

  @Mutation(() => Model, { description: 'Admin: loads a variant now (or waits for its load in progress). May evict others for the memory budget.' })
  async loadModel(@Arg('name', () => String) name: string, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => toModel(await this.registry.load(name), this.redact));
  }

  @Mutation(() => Model, { description: 'Admin: stops a variant\'s worker. Refused with MODEL_IN_USE while it runs requests, loads, or is pinned.' })
  async unloadModel(@Arg('name', () => String) name: string, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => toModel(await this.registry.unload(name), this.redact));
  }

  @Mutation(() => Model, { description: 'Admin: pins (never evicted for the memory budget) or unpins a variant.' })
  async pinModel(@Arg('name', () => String) name: string, @Arg('pinned', () => Boolean) pinned: boolean, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => toModel(this.registry.pin(name, pinned), this.redact));
  }

  @Mutation(() => RescanResult, { description: 'Admin: reads the registry folder again and takes new or changed variants without a restart.' })
  async rescanRegistry(@Ctx() context: GatewayContext): Promise<RescanResult> {
    return this.admin(context, async () => toRescanResult(await this.registry.rescan(), this.redact));
  }

  private async admin<T>(context: GatewayContext, run: () => Promise<T>): Promise<T> {
    const tracker = context.record.begin('admin');
    try {
      this.authorize(context.adminKey);
      return await run();
    } catch (error) {
      tracker.failed(error);
      throw error;
    } finally {
      tracker.end();
    }
  }

  private authorize(given: string | undefined): void {
    if (this.keyDigest === undefined) {
      throw new ServiceError(ErrorCode.FORBIDDEN, 'Admin operations are disabled on this server (no ADMIN_API_KEY configured)');
    }
    if (given === undefined || !timingSafeEqual(digest(given), this.keyDigest)) {
      throw new ServiceError(ErrorCode.UNAUTHENTICATED, 'Admin operations need a valid x-admin-key header');
    }
  }
}

// Private: equal-length digests, so that the comparison takes the same time whatever the key's length.
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
