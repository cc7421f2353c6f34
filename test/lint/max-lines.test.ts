import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLines, findLongFiles } from '../../tools/lint/max-lines.ts';

let root: string;
const lines = (n: number, last = '\n') => Array.from({ length: n }, (_, i) => `const x${i} = ${i};`).join('\n') + last;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'max-lines-'));
  await mkdir(join(root, 'src/deep/er'), { recursive: true });
  await writeFile(join(root, 'src/at-limit.ts'), lines(400));
  await writeFile(join(root, 'src/over.ts'), lines(401));
  await writeFile(join(root, 'src/deep/er/far-over.mjs'), lines(450, ''));
  await writeFile(join(root, 'src/deep/notes.md'), lines(900));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('max-lines', () => {
  it('lists the source files over the limit, nested ones included, longest first; other files are not counted', async () => {
    expect(await findLongFiles(root, 'src', 400)).toEqual([
      { file: 'src/deep/er/far-over.mjs', lines: 450 },
      { file: 'src/over.ts', lines: 401 },
    ]);
  });

  it('counts lines as wc -l does, plus a last line without a newline', () => {
    expect(countLines('')).toBe(0);
    expect(countLines('a\n')).toBe(1);
    expect(countLines('a\nb')).toBe(2);
    expect(countLines('a\n\n')).toBe(2);
  });
});
