import { createHash, timingSafeEqual } from 'node:crypto';
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { ManagedRegistry, VariantInfo } from '../registry/types.ts';
import { isHubSource } from '../hub/auto-install.ts';
import type { InstallJobs } from '../hub/install-jobs.ts';
import { CONVERTER_PRECISIONS } from '../hub/pull.ts';
import type { GatewayContext } from './context.ts';
import { Precision } from './model-install.type.ts';
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
    private readonly installs?: InstallJobs,
  ) {
    this.keyDigest = adminApiKey === undefined ? undefined : digest(adminApiKey);
  }

  @Mutation(() => Model, { description: 'Admin: loads a variant now (or waits for its load in progress). May evict others for the memory budget.' })
  async loadModel(@Arg('name', () => String) name: string, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => this.model(await this.registry.load(name)));
  }

  @Mutation(() => Model, { description: 'Admin: stops a variant\'s worker. Refused with MODEL_IN_USE while it runs requests, loads, or is pinned.' })
  async unloadModel(@Arg('name', () => String) name: string, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => this.model(await this.registry.unload(name)));
  }

  @Mutation(() => Model, { description: 'Admin: pins (never evicted for the memory budget) or unpins a variant.' })
  async pinModel(@Arg('name', () => String) name: string, @Arg('pinned', () => Boolean) pinned: boolean, @Ctx() context: GatewayContext): Promise<Model> {
    return this.admin(context, async () => this.model(this.registry.pin(name, pinned)));
  }

  @Mutation(() => RescanResult, { description: 'Admin: reads the registry folder again and takes new or changed variants without a restart.' })
  async rescanRegistry(@Ctx() context: GatewayContext): Promise<RescanResult> {
    return this.admin(context, async () => toRescanResult(await this.registry.rescan(), this.redact));
  }

  @Mutation(() => Model, {
    description:
      'Admin: downloads a variant from the Hugging Face Hub and converts it, in the background (as `npx blip-gateway pull`); returns at once. ' +
      'Follow `install` in `models`; the variant serves once it is DONE, without a restart. A second call while one runs joins it.',
  })
  async installModel(
    @Arg('name', () => String) name: string,
    @Arg('revision', () => String, { nullable: true, description: 'Branch, tag or commit (default: main).' }) revision: string | null | undefined,
    @Arg('precision', () => Precision, { nullable: true, description: 'Default FP32.' }) precision: Precision | null | undefined,
    @Ctx() context: GatewayContext,
  ): Promise<Model> {
    return this.admin(context, async () => {
      if (!this.installs) throw new ServiceError(ErrorCode.FORBIDDEN, 'Installing from the API is not available on this server');
      const info = this.registry.find(name);
      if (!info) this.registry.resolve(name, 'caption'); // throws MODEL_NOT_FOUND with the closest names
      if (!isHubSource(info!)) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Model "${info!.name}" is not downloaded from the Hugging Face Hub (its source is ${info!.source})`, {
          details: { model: info!.name },
        });
      }
      const wanted = precision === Precision.INT8 ? 'int8' : 'fp32';
      if (!CONVERTER_PRECISIONS.includes(wanted)) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Precision ${precision} is not supported by this converter yet`, { details: { model: info!.name } });
      }
      this.installs.start(info!.name, { revision: revision ?? undefined, precision: wanted });
      return this.model(this.registry.find(info!.name)!);
    });
  }

  private model(info: VariantInfo): Model {
    return toModel(info, this.redact, this.installs?.status(info.name));
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
