import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 100;
/** A lock file still empty after this long belongs to a process that died between creating and writing it. */
const EMPTY_LOCK_GRACE_MS = 10_000;
/** Converting the largest official BLIP checkpoint takes minutes, not hours. */
const WAIT_LIMIT_MS = 30 * 60_000;

/**
 * Runs `body` while holding `lockFile`, a file created exclusively (`wx`) that holds the owner's pid. Two servers
 * starting at once thus convert one after the other, and the second finds the work done. A lock left behind by a
 * process that no longer runs is taken over. (Pids are only meaningful on one machine: do not share a registry
 * folder between machines while it converts.)
 */
export async function withLock<T>(lockFile: string, onWait: () => void, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let waited = false;
  for (;;) {
    if (await tryCreate(lockFile)) break;
    if (await isAbandoned(lockFile)) {
      await unlink(lockFile).catch(() => {});
      continue;
    }
    if (!waited) onWait();
    waited = true;
    if (Date.now() - started > WAIT_LIMIT_MS) {
      throw new Error(`${lockFile}: still held after ${WAIT_LIMIT_MS / 60_000} minutes; remove it if no conversion is running`);
    }
    await sleep(POLL_MS);
  }
  try {
    return await body();
  } finally {
    await unlink(lockFile).catch(() => {});
  }
}

async function tryCreate(lockFile: string): Promise<boolean> {
  try {
    const handle = await open(lockFile, 'wx');
    try {
      await handle.writeFile(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function isAbandoned(lockFile: string): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(lockFile, 'utf8'), stat(lockFile)]);
  } catch (error) {
    // Released between our attempt and this look: not abandoned, just free; the next attempt will take it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid <= 0) return Date.now() - mtimeMs > EMPTY_LOCK_GRACE_MS;
  return !isRunning(pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
