import { Redis } from 'ioredis';

/** How the gateway talks to Redis; chosen so that no request waits on Redis for more than a few seconds. */
export const REDIS_TIMEOUTS = {
  /** A TCP connect (or TLS handshake) that takes longer is abandoned and retried. */
  connectTimeoutMs: 2000,
  /** A command without a reply by then fails (a Redis that hangs, or a network that drops packets). */
  commandTimeoutMs: 2000,
  /** Longest pause between reconnection attempts: Redis back → the gateway uses it again within about this long. */
  maxReconnectDelayMs: 1000,
} as const;

export type RedisStatus = 'ready' | 'unavailable';

export interface RedisHealth {
  status: RedisStatus;
  /** Since when (ms since the epoch) the status holds. */
  since: number;
}

export interface RedisConnectionOptions {
  /** The connection went down (`error` is what ioredis reported) or came back. Called once per change. */
  onStatusChange?: (status: RedisStatus, error?: Error) => void;
}

/**
 * One ioredis client shared by the image store and the rate limiter, with the settings that make a Redis outage
 * fail fast instead of piling requests up:
 * - no offline queue: a command issued while disconnected fails at once (ioredis would otherwise hold it until
 *   Redis is back, and the client's request would hang);
 * - connect and command timeouts, and commands in flight when the connection drops are failed, not re-sent;
 * - reconnection forever, at most `maxReconnectDelayMs` apart, so that a restarted Redis is used again within about
 *   a second without restarting the gateway.
 */
export class RedisConnection {
  readonly client: Redis;
  private health: RedisHealth = { status: 'unavailable', since: Date.now() };

  constructor(url: string, private readonly options: RedisConnectionOptions = {}) {
    this.client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: REDIS_TIMEOUTS.connectTimeoutMs,
      commandTimeout: REDIS_TIMEOUTS.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, REDIS_TIMEOUTS.maxReconnectDelayMs),
    });
    this.client.on('ready', () => this.setStatus('ready'));
    // ioredis reports every failed attempt as 'error' (and crashes the process on an unhandled one); the status
    // change is reported once per outage.
    this.client.on('error', (error: Error) => this.setStatus('unavailable', error));
    this.client.on('close', () => this.setStatus('unavailable'));
  }

  /** Connects, waiting at most `timeoutMs`; false when Redis is not there yet (the client keeps trying). */
  async connect(timeoutMs: number): Promise<boolean> {
    const connecting = this.client.connect().then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([connecting, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** For /readyz and the metrics. */
  healthNow(): RedisHealth {
    return { ...this.health };
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private setStatus(status: RedisStatus, error?: Error): void {
    if (this.health.status === status) return;
    this.health = { status, since: Date.now() };
    this.options.onStatusChange?.(status, error);
  }
}

