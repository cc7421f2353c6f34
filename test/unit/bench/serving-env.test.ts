import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVING_MALLOC_ENV } from '../../../tools/bench/serving-env.ts';

const REPO = join(import.meta.dirname, '../../..');
const SETTINGS = Object.entries(SERVING_MALLOC_ENV);

describe('the glibc settings of the serving process', () => {
  // The bench reports serving RSS and load times; they only mean something if it starts the server as deployments do.
  it('are what `npm start` sets, unless the operator set them already', () => {
    const start = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts.start as string;
    const prefix = SETTINGS.map(([name, value]) => `${name}=\${${name}:-${value}} `).join('');
    expect(start).toBe(`${prefix}node --import tsx src/main.ts`);
  });

  it.each(SETTINGS)('%s=%s is what the Docker image sets', (name, value) => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^\\s+${name}=${value.replace(/\./g, '\\.')}(\\s|$)`, 'm'));
  });

  // A setting dropped from SERVING_MALLOC_ENV (the fixed MALLOC_MMAP_THRESHOLD_ was) must leave the image too.
  it('are the only allocator variables the Docker image sets', () => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    const set = [...dockerfile.matchAll(/^\s+(MALLOC_\w+|GLIBC_TUNABLES)=/gm)].map((match) => match[1]).sort();
    expect(set).toEqual(Object.keys(SERVING_MALLOC_ENV).sort());
  });
});
