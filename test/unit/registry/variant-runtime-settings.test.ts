import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import type { RuntimeOptions } from '../../../src/models/family.ts';
import { createModelRegistry } from '../../../src/registry/model-registry.ts';
import { parseVariantConfig } from '../../../src/registry/variant-config.ts';
import { createTempRegistry, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { startWorkerBackend } from '../../helpers/worker-backend.ts';

const FILE = '/repo/registry/blip-base/variant.json';
const parse = (runtime: unknown) => parseVariantConfig(officialVariant('blip-base', 'caption', { runtime }), FILE, 'blip-base');

describe('variant.json `runtime`: per-variant ONNX Runtime settings', () => {
  it('reads intraOpThreads and allowSpinning, each optional', () => {
    expect(parse(undefined).runtime).toEqual({});
    expect(parse({}).runtime).toEqual({});
    expect(parse({ intraOpThreads: 2 }).runtime).toEqual({ intraOpThreads: 2 });
    expect(parse({ intraOpThreads: 1, allowSpinning: false }).runtime).toEqual({ intraOpThreads: 1, allowSpinning: false });
  });

  it.each([
    [{ intraOpThreads: 0 }, 'expected an integer from 1 to 256 for runtime.intraOpThreads but received 0'],
    [{ intraOpThreads: 1.5 }, 'expected an integer from 1 to 256 for runtime.intraOpThreads but received 1.5'],
    [{ intraOpThreads: '2' }, 'expected an integer from 1 to 256 for runtime.intraOpThreads but received "2"'],
    [{ allowSpinning: 'no' }, 'expected a boolean for runtime.allowSpinning but received "no"'],
    [{ intraOpThread: 2 }, 'expected no such key (known keys: intraOpThreads, allowSpinning) for runtime.intraOpThread but received 2'],
    [[1], 'expected an object for runtime but received'],
  ])('refuses %j with INVALID_VARIANT naming the field', (runtime, message) => {
    let error: unknown;
    try {
      parse(runtime);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'INVALID_VARIANT', message: expect.stringContaining(`${FILE}: ${message}`) });
  });

  describe('loading', () => {
    let temp: TempRegistry;
    beforeAll(async () => {
      temp = await createTempRegistry();
      await temp.writeVariant('own', officialVariant('own', 'caption', { runtime: { intraOpThreads: 1, allowSpinning: false } }));
      await temp.writeVariant('shared', officialVariant('shared', 'caption'));
      await temp.install('own', 'caption');
      await temp.install('shared', 'caption');
    });
    afterAll(async () => {
      await temp?.cleanup();
    });

    it("a variant's own settings win over the server-wide ones; the others keep the server-wide ones", async () => {
      const seen = new Map<string, RuntimeOptions>();
      const registry = await createModelRegistry({
        root: temp.root,
        repoRoot: temp.repoRoot,
        pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS, intraOpThreads: 2, allowSpinning: true },
        startBackend: (dir, options) => {
          seen.set(dir.split('/').at(-1)!, options);
          return startWorkerBackend(dir, options);
        },
      });
      try {
        await registry.acquire('own');
        await registry.acquire('shared');
        expect(seen.get('own')).toMatchObject({ intraOpThreads: 1, allowSpinning: false });
        expect(seen.get('shared')).toMatchObject({ intraOpThreads: 2, allowSpinning: true });
      } finally {
        await registry.close();
      }
    });
  });
});
