import type { BlipTask } from '../models/blip/checkpoint/blip-config.ts';

/** What a pull reports as it goes; the CLI renders these (bar, lines or JSON) and the install job keeps the last. */
export type PullEvent =
  | { type: 'resolving'; repo: string; revision: string; offline: boolean }
  | { type: 'resolved'; repo: string; revision: string; commit: string; offline: boolean }
  /** The files of this pull, with what is already in the cache. */
  | { type: 'files'; files: Array<{ path: string; bytes: number; cached: boolean }>; bytesTotal: number }
  | { type: 'download'; file: string; fileBytes: number; fileSize: number; bytesDone: number; bytesTotal: number }
  /** A partial file was continued with a Range request from `offset`. */
  | { type: 'resumed'; file: string; offset: number }
  | { type: 'verified'; file: string; cached: boolean }
  | { type: 'converting'; graph: string; done: number; total: number }
  | { type: 'waiting'; lockFile: string }
  | { type: 'installed'; name: string; dir: string; repo: string; commit: string; task: BlipTask; bytes: number };

export type PullPhase = 'resolving' | 'downloading' | 'converting' | 'done';

export function phaseOf(event: PullEvent): PullPhase {
  switch (event.type) {
    case 'resolving':
    case 'resolved':
    case 'waiting':
      return 'resolving';
    case 'files':
    case 'download':
    case 'resumed':
    case 'verified':
      return 'downloading';
    case 'converting':
      return 'converting';
    case 'installed':
      return 'done';
  }
}
