/**
 * The house rule "no source file over 400 lines": long files get split by responsibility, not cut in half.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export const MAX_SOURCE_LINES = 400;

/** Extensions of source files the rule counts. */
const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

export interface LongFile {
  /** Relative to the root given to `findLongFiles`, with forward slashes. */
  file: string;
  lines: number;
}

/** Source files under `dir` longer than `limit` lines, longest first. */
export async function findLongFiles(root: string, dir: string, limit = MAX_SOURCE_LINES): Promise<LongFile[]> {
  const entries = await readdir(join(root, dir), { recursive: true, withFileTypes: true });
  const long: LongFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !SOURCE_FILE.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const lines = countLines(await readFile(path, 'utf8'));
    if (lines > limit) long.push({ file: relative(root, path).split('\\').join('/'), lines });
  }
  return long.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
}

/** Lines as `wc -l` counts them for a file that ends in a newline; a last line without one counts too. */
export function countLines(text: string): number {
  if (text.length === 0) return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}
