import type { SessionMemoryOptions, SessionOptions } from '../../../runtime/onnx-session.ts';

/**
 * The vision encoder keeps ONNX Runtime's CPU arena; the other graphs do not (DEFAULT_SESSION_MEMORY). Its
 * activations are the serving process's only short-lived blocks of 1 MiB or more besides cross-attention K/V (per
 * image about twenty of 1.7 MiB and a few of 5–15 MiB). Under MALLOC_MMAP_THRESHOLD_, which keeps the K/V from
 * fragmenting glibc's heaps, each of them was a fresh mapping faulted in page by page: about 0.3 s of CPU per int8
 * blip-base caption. The arena keeps one vision pass's peak for the session's life instead, which the working-memory
 * bound already counts (vision batch × activations, working-memory.ts). README "Memory budget" has the measurements.
 */
export const VISION_SESSION_MEMORY: Readonly<SessionMemoryOptions> = Object.freeze({ cpuArena: true });

/** The options of the vision encoder's session: the caller's, with the vision memory settings unless it chose its own. */
export function visionSessionOptions(options: SessionOptions): SessionOptions {
  return { ...options, memory: { ...VISION_SESSION_MEMORY, ...options.memory } };
}
