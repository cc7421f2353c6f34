import { createHash } from 'node:crypto';

export interface EmbeddingCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes of the embeddings held now. */
  bytes: number;
  entries: number;
  maxBytes: number;
}

/**
 * Image embeddings (vision encoder outputs) by image, least recently used evicted first, bounded by the bytes of the
 * embeddings it holds. Several questions about one image, or a repeated caption, then run the vision encoder once.
 *
 * A key is the sha256 of the encoded image bytes within a scope: the vision weights (their sha256 from the manifest),
 * the preprocessing configuration and the EXIF policy, everything else that decides the embedding. One worker serves
 * one variant, so the scope is fixed per cache; it is still part of the key so entries can never be mixed up.
 */
export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  private readonly scope: string;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    readonly maxBytes: number,
    scope: unknown,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError(`Expected a non-negative integer for maxBytes but received ${maxBytes}`);
    this.scope = sha256(JSON.stringify(scope));
  }

  /** The cache key of an encoded image. */
  keyOf(image: Uint8Array): string {
    return `${this.scope}:${sha256(image)}`;
  }

  /** Whether `key` is cached, without counting a lookup or refreshing it. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The embedding of `key`, which becomes the most recently used; counts a hit or a miss. */
  get(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Counts a hit that did not need the cache (the same image was encoded for another request of the same pass). */
  countHit(): void {
    this.hits++;
  }

  /** Stores an embedding (a copy, so the cache never pins a larger batched buffer); evicts until it fits. */
  set(key: string, embedding: Float32Array): void {
    if (embedding.byteLength > this.maxBytes) return;
    const existing = this.entries.get(key);
    if (existing) {
      this.bytes -= existing.byteLength;
      this.entries.delete(key);
    }
    const copy = embedding.slice();
    this.entries.set(key, copy);
    this.bytes += copy.byteLength;
    for (const [oldest, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= value.byteLength;
      this.evictions++;
    }
  }

  stats(): EmbeddingCacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, bytes: this.bytes, entries: this.entries.size, maxBytes: this.maxBytes };
  }
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
