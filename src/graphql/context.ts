import type { ContainerType, ResolverData } from 'type-graphql';
import type { Config } from '../config/config.ts';
import type { InstallJobs } from '../hub/install-jobs.ts';
import type { InferenceRequests } from '../gateway/requests.ts';
import type { RequestRecord } from '../gateway/request-record.ts';
import type { ManagedRegistry } from '../registry/types.ts';
import type { ImageLoader } from '../upload/image-source.ts';
import type { ImageStore } from '../upload/image-store.ts';

/** Everything the resolvers use; built once per server by the composition root. */
export interface GatewayServices {
  config: Config;
  registry: ManagedRegistry;
  requests: InferenceRequests;
  images: ImageStore;
  loadImage: ImageLoader;
  /** Removes server folders from messages sent to clients. */
  redact: (message: string) => string;
  /** Installs from the Hugging Face Hub (installModel, Model.install); absent where a server does not offer them. */
  installs?: InstallJobs;
}

/** Per request. */
export interface GatewayContext {
  /** Resolves resolver classes to this server's instances (type-graphql's `container`). */
  container: ContainerType;
  /** Aborted when the client goes away before the response is sent. */
  signal: AbortSignal;
  /** What this request did, for its log line and metrics. */
  record: RequestRecord;
  /** The `x-admin-key` header, if sent. */
  adminKey: string | undefined;
  /**
   * Streaming transports only: takes one of the client's subscriptions (TOO_MANY_SUBSCRIPTIONS when it has none
   * left) and returns its release.
   */
  startSubscription?: () => () => void;
}

/** type-graphql asks the request's container for resolver instances, so one schema serves any number of servers. */
export function containerOf({ context }: ResolverData<GatewayContext>): ContainerType {
  return context.container;
}
