import type { ImageLimits } from '../image/decode.ts';

/**
 * Image limits when nothing else is configured: 20 MiB of encoded bytes and 50 megapixels decoded (a 50 MP phone photo
 * decodes to 150 MB of RGB; a decompression bomb is refused before any pixel is decoded).
 */
export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };

/**
 * Request limits when nothing else is configured (see src/config/config.ts for the variables that override them).
 * The body limit leaves room for a maximum-size image sent as base64 (4/3 of its bytes) plus the operation.
 */
export const DEFAULT_LIMITS = {
  bodyBytes: 32 * 1024 * 1024,
  questionChars: 500,
  promptChars: 500,
  batchItems: 32,
  queryDepth: 10,
  queryFields: 200,
  queryTokens: 20_000,
} as const;

/** Server settings when nothing else is configured. */
export const DEFAULT_SERVER = {
  host: '0.0.0.0',
  port: 4000,
  shutdownTimeoutMs: 10_000,
  imageStoreBytes: 256 * 1024 * 1024,
  imageStoreImages: 1000,
  imageStoreTtlSeconds: 600,
  imageFetchTimeoutMs: 10_000,
  /**
   * No rate limit unless configured: one interactive or scripted user must never hit it (a script on localhost sends
   * 20 requests/s to an idle server). Overload is the queue bound's job (OVERLOADED). When set, bursts of 60.
   */
  rateLimitPerMinute: 0,
  rateLimitBurst: 60,
  /** Per client IP: WebSocket connections plus SSE requests open at once (a page needs one WebSocket, or one per SSE stream). */
  streamConnectionsPerClient: 8,
  /** Per client IP: subscriptions running at once (each holds decoder rows while it generates). */
  streamSubscriptionsPerClient: 16,
  /** Share of the machine's memory (os.totalmem()) the loaded models may take. */
  memoryBudgetFraction: 0.75,
} as const;

/**
 * The origins Apollo Studio sends requests from: the Explorer and Sandbox at studio.apollographql.com, and the iframes
 * of the embedded Explorer and Sandbox (Apollo Server's landing page embeds these).
 */
export const APOLLO_STUDIO_ORIGINS: readonly string[] = ['https://studio.apollographql.com', 'https://sandbox.embed.apollographql.com', 'https://explorer.embed.apollographql.com'];
