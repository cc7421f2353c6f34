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

interface Entry {
  bytes: Uint8Array;
  expiresAt: number;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Upload-once images: clients store an image and then refer to it by id in several requests, so that asking many
 * questions about one picture does not resend it. Bounded in bytes and count, entries expire (sliding TTL) and the
 * least recently used go first. In memory and per process: ids do not survive a restart or reach other replicas.
 */
export class ImageStore {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: ImageStoreOptions) {
    for (const key of ['maxBytes', 'maxImages', 'ttlMs'] as const) {
      const value = options[key];
      if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`Expected a positive integer for ${key} but received ${String(value)}`);
    }
    this.now = options.now ?? Date.now;
  }

  /** Keeps a copy of `bytes` (or refreshes the image when it is already stored). */
  put(bytes: Uint8Array): StoredImage {
    if (bytes.length === 0) throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected image bytes but received an empty file');
    if (bytes.length > this.options.maxBytes) {
      throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${this.options.maxBytes} bytes for the image store but received ${bytes.length} bytes`, {
        details: { bytes: bytes.length, maxBytes: this.options.maxBytes },
      });
    }
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
    if (!ID_PATTERN.test(id)) {
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected an imageId returned by uploadImage (64 hex digits) but received ${JSON.stringify(id.length > 70 ? `${id.slice(0, 67)}...` : id)}`, {
        details: { imageId: id.slice(0, 70) },
      });
    }
    this.expire();
    const entry = this.entries.get(id);
    if (!entry) {
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Unknown or expired imageId ${id}: upload the image again`, { details: { imageId: id } });
    }
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
