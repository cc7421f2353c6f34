import { createHash } from 'node:crypto';
import { ErrorCode, ServiceError } from '../errors.ts';

export interface ImageStoreOptions {
  /** Total bytes kept; the least recently used images are forgotten first. */
  maxBytes: number;
  maxImages: number;
  /** An image is forgotten this long after it was last stored or read. */
  ttlMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface StoredImage {
  /** sha256 of the bytes, lowercase hex: the same image always gets the same id. */
  id: string;
  bytes: number;
  /** When the image will be forgotten unless it is used again (ms since the epoch). */
  expiresAt: number;
}

/**
 * Upload-once images, by content hash. Two implementations: `MemoryImageStore` (per process, the default) and
 * `RedisImageStore` (REDIS_URL: shared by every replica). Both have the same semantics: a sliding TTL, a cap on bytes
 * and on count, least recently used first out. A Redis store's methods are asynchronous and may throw
 * IMAGE_STORE_UNAVAILABLE.
 */
export interface ImageStore {
  /** Keeps a copy of `bytes` (or refreshes the image when it is already stored). */
  put(bytes: Uint8Array): StoredImage | Promise<StoredImage>;
  /** A private copy of the image, refreshing its expiry; BAD_USER_INPUT for a malformed, unknown or expired id. */
  get(id: string): Uint8Array | Promise<Uint8Array>;
  /** Called when the server stops. */
  close(): void | Promise<void>;
}

interface Entry {
  bytes: Uint8Array;
  expiresAt: number;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;

/** The checks both stores make before storing: not empty, not over the store's whole byte budget. */
export function checkStorable(bytes: Uint8Array, maxBytes: number): void {
  if (bytes.length === 0) throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected image bytes but received an empty file');
  if (bytes.length > maxBytes) {
    throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${maxBytes} bytes for the image store but received ${bytes.length} bytes`, {
      details: { bytes: bytes.length, maxBytes },
    });
  }
}

/** Throws BAD_USER_INPUT unless `id` looks like an id uploadImage returns. */
export function checkImageId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an imageId returned by uploadImage (64 hex digits) but received ${JSON.stringify(id.length > 70 ? `${id.slice(0, 67)}...` : id)}`, {
      details: { imageId: id.slice(0, 70) },
    });
  }
}

/** Thrown for an id the store does not hold (never stored, expired or evicted). */
export function unknownImageId(id: string): ServiceError {
  return new ServiceError(ErrorCode.BAD_USER_INPUT, `Unknown or expired imageId ${id}: upload the image again`, { details: { imageId: id } });
}

/** Checks the store's numeric options (both implementations). */
export function checkStoreOptions(options: Pick<ImageStoreOptions, 'maxBytes' | 'maxImages' | 'ttlMs'>): void {
  for (const key of ['maxBytes', 'maxImages', 'ttlMs'] as const) {
    const value = options[key];
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`Expected a positive integer for ${key} but received ${String(value)}`);
  }
}

/**
 * Upload-once images: clients store an image and then refer to it by id in several requests, so that asking many
 * questions about one picture does not resend it. Bounded in bytes and count, entries expire (sliding TTL) and the
 * least recently used go first. In memory and per process: ids do not survive a restart or reach other replicas
 * (see RedisImageStore for that).
 */
export class MemoryImageStore implements ImageStore {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: ImageStoreOptions) {
    checkStoreOptions(options);
    this.now = options.now ?? Date.now;
  }

  /** Keeps a copy of `bytes` (or refreshes the image when it is already stored). */
  put(bytes: Uint8Array): StoredImage {
    checkStorable(bytes, this.options.maxBytes);
    const id = createHash('sha256').update(bytes).digest('hex');
    const expiresAt = this.now() + this.options.ttlMs;
    const existing = this.entries.get(id);
    if (existing) {
      this.entries.delete(id);
      this.entries.set(id, { bytes: existing.bytes, expiresAt });
    } else {
      this.entries.set(id, { bytes: new Uint8Array(bytes), expiresAt });
      this.totalBytes += bytes.length;
    }
    this.evict(id);
    return { id, bytes: bytes.length, expiresAt };
  }

  /**
   * A private copy of the image (callers may transfer it to a worker, which detaches it), refreshing its expiry.
   * Throws BAD_USER_INPUT for a malformed, unknown or expired id.
   */
  get(id: string): Uint8Array {
    checkImageId(id);
    this.expire();
    const entry = this.entries.get(id);
    if (!entry) throw unknownImageId(id);
    this.entries.delete(id);
    entry.expiresAt = this.now() + this.options.ttlMs;
    this.entries.set(id, entry);
    return new Uint8Array(entry.bytes);
  }

  /** Images and bytes currently held (after dropping expired ones). */
  stats(): { images: number; bytes: number } {
    this.expire();
    return { images: this.entries.size, bytes: this.totalBytes };
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  close(): void {
    this.clear();
  }

  // Private: drop expired entries, then the least recently used until both caps hold (never `keep`).
  private evict(keep: string): void {
    this.expire();
    for (const [id, entry] of this.entries) {
      if (this.totalBytes <= this.options.maxBytes && this.entries.size <= this.options.maxImages) break;
      if (id === keep) continue;
      this.remove(id, entry);
    }
  }

  // Entries are ordered by last use and the TTL is fixed, so they also expire in order: stop at the first live one.
  private expire(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.remove(id, entry);
    }
  }

  private remove(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.totalBytes -= entry.bytes.length;
  }
}
