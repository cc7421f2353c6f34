import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVING_MALLOC_ENV } from '../../../tools/bench/serving-env.ts';

const REPO = join(import.meta.dirname, '../../..');

describe('the glibc setting of the serving process', () => {
  // The bench reports serving RSS; it only means something if the bench starts the server as deployments do.
  const [[name, value]] = Object.entries(SERVING_MALLOC_ENV);

  it('is what `npm start` sets, unless the operator set it already', () => {
    const start = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts.start as string;
    expect(start.startsWith(`${name}=\${${name}:-${value}} node `)).toBe(true);
  });

  it('is what the Docker image sets', () => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^\\s+${name}=${value}\\b`, 'm'));
  });
});
