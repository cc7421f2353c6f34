/**
 * Positional reads of a byte range into fresh memory: how lazy readers fetch one tensor at a time.
 */
import type { FileHandle } from 'node:fs/promises';

/** A single `read` call is limited to 2 GiB; stay well below it. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * Reads exactly `length` bytes at `position` into a new, 8-byte-aligned buffer (so typed-array views are valid).
 * Returns the bytes actually read when the file ends early; callers compare the length and report the truncation.
 */
export async function readFileRange(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const chunk = Math.min(length - filled, MAX_READ_CHUNK);
    const { bytesRead } = await handle.read(bytes, filled, chunk, position + filled);
    if (bytesRead === 0) return bytes.subarray(0, filled);
    filled += bytesRead;
  }
  return bytes;
}
