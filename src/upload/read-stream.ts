import type { Readable } from 'node:stream';
import { ErrorCode, ServiceError } from '../errors.ts';

/**
 * Reads a stream (an uploaded file, a fetched body) into one buffer that owns its memory, refusing more than
 * `maxBytes` with IMAGE_TOO_LARGE as soon as the limit is crossed. A stream error with HTTP status 413 (graphql-upload's
 * per-file limit) is reported the same way; other stream errors become BAD_USER_INPUT naming `what`.
 */
export async function readStreamLimited(stream: Readable | AsyncIterable<Uint8Array>, maxBytes: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += bytes.length;
      if (total > maxBytes) {
        if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy();
        throw imageTooLarge(maxBytes, total);
      }
      chunks.push(bytes);
    }
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    if ((error as { status?: unknown }).status === 413) throw imageTooLarge(maxBytes);
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not read ${what}: ${(error as Error).message}`, { cause: error });
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** IMAGE_TOO_LARGE for a file cut off at `maxBytes` (`received` = how much was read before stopping, if known). */
export function imageTooLarge(maxBytes: number, received?: number): ServiceError {
  const what = received === undefined ? 'more' : `at least ${received} bytes`;
  return new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${maxBytes} bytes but received ${what}`, {
    details: { maxBytes },
  });
}
