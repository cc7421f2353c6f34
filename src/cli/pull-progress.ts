import type { HubError } from '../hub/hub-error.ts';
import type { PullEvent } from '../hub/pull-events.ts';

export type ProgressMode = 'tty' | 'plain' | 'json';

/** What a terminal, a log file or a program reading `--json` sees of a pull. */
export interface ProgressRenderer {
  event(event: PullEvent): void;
  error(error: HubError): void;
}

interface Sink {
  write(text: string): unknown;
}

/** Redraws at most this often on a terminal; plain lines at most once per PLAIN_MS; JSON download events per JSON_MS. */
const TTY_MS = 100;
const PLAIN_MS = 1000;
const JSON_MS = 200;
const BAR_WIDTH = 24;

export function createRenderer(mode: ProgressMode, out: Sink, err: Sink, now: () => number = () => performance.now()): ProgressRenderer {
  const rate = new RateMeter(now);
  let lastDraw = -Infinity;
  let barShown = false;
  const line = (text: string) => {
    if (barShown) err.write('\n');
    barShown = false;
    err.write(`${text}\n`);
  };
  return {
    event(event) {
      if (event.type === 'download') rate.update(event.file, event.fileBytes);
      if (mode === 'json') {
        const frequent = event.type === 'download' || event.type === 'converting';
        const finished = (event.type === 'download' && event.fileBytes === event.fileSize) || (event.type === 'converting' && event.done === event.total);
        if (frequent && !finished && now() - lastDraw < JSON_MS) return;
        if (frequent) lastDraw = now();
        out.write(`${JSON.stringify(event.type === 'download' ? { ...event, bytesPerSecond: Math.round(rate.perSecond()) } : event)}\n`);
        return;
      }
      switch (event.type) {
        case 'download': {
          const finished = event.fileBytes === event.fileSize;
          if (!finished && now() - lastDraw < (mode === 'tty' ? TTY_MS : PLAIN_MS)) return;
          lastDraw = now();
          const text = progressText(event, rate.perSecond());
          if (mode === 'tty') {
            err.write(`\r\x1b[K${bar(event.bytesDone, event.bytesTotal)} ${text}`);
            barShown = true;
          } else {
            err.write(`${text}\n`);
          }
          return;
        }
        case 'resolving':
          return line(`${event.repo}: resolving ${event.revision}${event.offline ? ' in the cache (HF_HUB_OFFLINE)' : ''}`);
        case 'resolved':
          return line(`${event.repo}: ${event.revision} is commit ${event.commit}`);
        case 'files': {
          const cached = event.files.filter((f) => f.cached).length;
          return line(`${event.files.length} files, ${formatBytes(event.bytesTotal)}${cached > 0 ? ` (${cached} already in the cache)` : ''}`);
        }
        case 'resumed':
          return line(`${event.file}: resuming at ${formatBytes(event.offset)}`);
        case 'verified':
          return mode === 'plain' ? line(`${event.file}: ${event.cached ? 'in the cache, ' : ''}checksum ok`) : undefined;
        case 'converting':
          if (event.done < event.total && now() - lastDraw < (mode === 'tty' ? TTY_MS : PLAIN_MS)) return;
          lastDraw = now();
          if (mode === 'tty') {
            err.write(`\r\x1b[K${bar(event.done, event.total)} converting ${event.graph}`);
            barShown = true;
          } else {
            err.write(`converting ${event.graph}: ${Math.round((100 * event.done) / Math.max(1, event.total))}%\n`);
          }
          return;
        case 'waiting':
          return line(`waiting for another pull of this variant (${event.lockFile})`);
        case 'installed':
          if (barShown) err.write('\n');
          barShown = false;
          out.write(`installed ${event.name} (${event.task}) from ${event.repo}@${event.commit} into ${event.dir}: ${formatBytes(event.bytes)}\n`);
          return;
      }
    },
    error(error) {
      if (mode === 'json') {
        out.write(`${JSON.stringify({ type: 'error', kind: error.kind, exitCode: error.exitCode, resumable: error.resumable, message: error.message })}\n`);
      } else if (barShown) {
        err.write('\n');
        barShown = false;
      }
    },
  };
}

function progressText(event: Extract<PullEvent, { type: 'download' }>, perSecond: number): string {
  const percent = event.bytesTotal > 0 ? Math.floor((100 * event.bytesDone) / event.bytesTotal) : 100;
  const left = event.bytesTotal - event.bytesDone;
  const eta = perSecond > 0 ? formatDuration(left / perSecond) : '--';
  return `${String(percent).padStart(3)}% ${formatBytes(event.bytesDone)}/${formatBytes(event.bytesTotal)} ${formatBytes(perSecond)}/s ETA ${eta} ${event.file}`;
}

function bar(done: number, total: number): string {
  const filled = total > 0 ? Math.min(BAR_WIDTH, Math.round((BAR_WIDTH * done) / total)) : BAR_WIDTH;
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Download speed over the bytes fetched in this run: a resumed prefix or a cached file arrives as one jump and is not
 * counted (the first figure reported for each file is its starting point).
 */
class RateMeter {
  private readonly seen = new Map<string, number>();
  private fetched = 0;
  private started: number | undefined;

  constructor(private readonly now: () => number) {}

  update(file: string, bytes: number): void {
    const before = this.seen.get(file);
    this.seen.set(file, bytes);
    if (before === undefined) return;
    this.started ??= this.now();
    this.fetched += Math.max(0, bytes - before);
  }

  perSecond(): number {
    if (this.started === undefined) return 0;
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? this.fetched / seconds : 0;
  }
}
