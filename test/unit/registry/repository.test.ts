import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { ServiceError } from '../../../src/errors.ts';
import { createModelRegistry } from '../../../src/registry/model-registry.ts';
import { scanRegistry } from '../../../src/registry/repository.ts';
import { createTempRegistry, embeddedVariant, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { captionOn, answerOn, startWorkerBackend } from '../../helpers/worker-backend.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

async function scanError(temp: TempRegistry): Promise<ServiceError> {
  try {
    await scanRegistry(temp.root, temp.repoRoot);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe('INVALID_VARIANT');
    return error as ServiceError;
  }
  throw new Error('expected the scan to fail');
}

describe('scanRegistry', () => {
  let temp: TempRegistry;
  beforeEach(async () => {
    temp = await createTempRegistry();
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  it('reads every folder, ignoring plain files and dot-folders', async () => {
    await temp.writeVariant('b-model', officialVariant('b-model', 'vqa'));
    await temp.writeVariant('a-model', officialVariant('a-model', 'caption'));
    await writeFile(join(temp.root, 'README.md'), '# registry');
    await mkdir(join(temp.root, '.cache'));
    const entries = await scanRegistry(temp.root, temp.repoRoot);
    expect(entries.map((e) => [e.config.name, e.installation.status])).toEqual([
      ['a-model', 'absent'],
      ['b-model', 'absent'],
    ]);
  });

  it('refuses a folder without variant.json, naming the file', async () => {
    await mkdir(join(temp.root, 'stray'));
    const error = await scanError(temp);
    expect(error.message).toBe(`${join(temp.root, 'stray', 'variant.json')}: missing; every folder of the registry is a variant and needs a variant.json (see registry/README.md)`);
  });

  it('refuses a variant.json that is not JSON', async () => {
    const file = await temp.writeVariant('x', '{ "name": "x", }');
    expect((await scanError(temp)).message).toMatch(new RegExp(`^${file}: not valid JSON`));
  });

  it('refuses an alias used by another variant (as a name or an alias), naming both files', async () => {
    await temp.writeVariant('a', officialVariant('a', 'caption', { aliases: ['shared'] }));
    const second = await temp.writeVariant('b', officialVariant('b', 'caption', { aliases: ['shared'] }));
    let error = await scanError(temp);
    expect(error.message).toBe(`${second}: expected a name no other variant uses for aliases[0] but received "shared" (already used in ${join(temp.root, 'a', 'variant.json')})`);
    expect(error.details).toEqual({ file: second, field: 'aliases[0]' });

    await temp.writeVariant('b', officialVariant('b', 'caption', { aliases: ['a'] }));
    error = await scanError(temp);
    expect(error.message).toContain(`${second}: expected a name no other variant uses for aliases[0] but received "a"`);
  });

  it('refuses two defaults for one task, but allows one per task', async () => {
    await temp.writeVariant('a', officialVariant('a', 'caption', { default: true }));
    await temp.writeVariant('b', officialVariant('b', 'vqa', { default: true }));
    await expect(scanRegistry(temp.root, temp.repoRoot)).resolves.toHaveLength(2);

    const third = await temp.writeVariant('c', officialVariant('c', 'caption', { default: true }));
    const error = await scanError(temp);
    expect(error.message).toBe(
      `${third}: expected at most one default variant per task for default but received true (${join(temp.root, 'a', 'variant.json')} is already the default for caption)`,
    );
    expect(error.details).toEqual({ file: third, field: 'default' });
  });

  it('refuses a checkpoint source that is not a folder of the repository', async () => {
    const file = await temp.writeVariant('x', embeddedVariant('x', 'caption', { source: { checkpoint: 'checkpoints/nope', embedded: true } }));
    const error = await scanError(temp);
    expect(error.message).toBe(`${file}: expected a checkpoint folder relative to the repository root (${temp.repoRoot}) for source.checkpoint but received "checkpoints/nope", which is not a folder`);
  });

  it('validates an existing manifest at scan time (fail fast)', async () => {
    await temp.writeVariant('x', officialVariant('x', 'caption'));
    const dir = await temp.install('x', 'caption');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, dims: { ...manifest.dims, textLayers: 0 } }));
    const error = await scanError(temp);
    expect(error.message).toBe(`${join(dir, 'manifest.json')}: expected an integer ≥ 1 for dims.textLayers but received 0`);
  });

  it('refuses a manifest that disagrees with variant.json on the task or the name, naming both files', async () => {
    const file = await temp.writeVariant('x', officialVariant('x', 'vqa'));
    const dir = await temp.install('x', 'caption');
    let error = await scanError(temp);
    expect(error.message).toBe(`${join(dir, 'manifest.json')}: expected "vqa" (the task in ${file}) for task but received "caption"`);
    expect(error.details).toEqual({ file: join(dir, 'manifest.json'), field: 'task', variantFile: file });

    // A folder copied under another name keeps the old name in its manifest.
    await rm(join(temp.root, 'x'), { recursive: true });
    await temp.install('x', 'caption');
    await rename(join(temp.root, 'x'), join(temp.root, 'y'));
    const renamed = await temp.writeVariant('y', officialVariant('y', 'caption'));
    error = await scanError(temp);
    expect(error.message).toBe(`${join(temp.root, 'y', 'manifest.json')}: expected "y" (the name in ${renamed}) for name but received "x"`);
  });

  it('refuses a manifest with an unknown precision', async () => {
    await temp.writeVariant('x', officialVariant('x', 'caption'));
    const dir = await temp.install('x', 'caption');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, precision: 'bf16' }));
    const error = await scanError(temp);
    expect(error.message).toBe(`${join(dir, 'manifest.json')}: expected "fp32" or "int8" for precision but received "bf16"`);
  });

  it('refuses an fp32 folder under an int8 variant.json (a manifest from before precisions counts as fp32)', async () => {
    const file = await temp.writeVariant('x', officialVariant('x', 'caption', { precision: 'int8' }));
    const dir = await temp.install('x', 'caption');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    delete manifest.precision;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const error = await scanError(temp);
    expect(error.message).toBe(`${join(dir, 'manifest.json')}: expected "int8" (the precision in ${file}) for precision but received "fp32"`);
    expect(error.details).toEqual({ file: join(dir, 'manifest.json'), field: 'precision', variantFile: file });
  });

  it('treats a manifest whose files are missing or truncated as not installed', async () => {
    await temp.writeVariant('x', officialVariant('x', 'caption'));
    const dir = await temp.install('x', 'caption');
    expect((await scanRegistry(temp.root, temp.repoRoot))[0].installation.status).toBe('installed');
    await truncate(join(dir, 'vision_model.onnx.data'), 10);
    const [entry] = await scanRegistry(temp.root, temp.repoRoot);
    expect(entry.installation).toMatchObject({ status: 'incomplete', problem: expect.stringContaining('vision_model.onnx.data has 10 bytes') });
  });

  it('treats a broken manifest in an embedded variant as out of date, not as an error (it is converted again)', async () => {
    await temp.writeVariant('x', embeddedVariant('x', 'caption'));
    await writeFile(join(temp.root, 'x', 'manifest.json'), '{ "format": 0 }');
    const [entry] = await scanRegistry(temp.root, temp.repoRoot);
    expect(entry.installation.status).toBe('absent');
  });
});

describe('the committed registry/', () => {
  it('scans cleanly: official variants, embedded defaults for both tasks', async () => {
    // Scanning only reads; nothing is converted or loaded here.
    const registry = await createModelRegistry({ root: join(REPO_ROOT, 'registry'), repoRoot: REPO_ROOT, pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS }, startBackend: startWorkerBackend });
    const variants = registry.list();
    expect(variants.map((v) => [v.name, v.task, v.isDefault, v.source, v.precision])).toEqual([
      ['blip-base', 'caption', false, 'Salesforce/blip-image-captioning-base', 'fp32'],
      ['blip-base-int8', 'caption', false, 'Salesforce/blip-image-captioning-base', 'int8'],
      ['blip-demo', 'caption', true, 'models/blip-demo', 'fp32'],
      ['blip-demo-int8', 'caption', false, 'models/blip-demo', 'int8'],
      ['blip-demo-vqa', 'vqa', true, 'models/blip-demo-vqa', 'fp32'],
      ['blip-demo-vqa-int8', 'vqa', false, 'models/blip-demo-vqa', 'int8'],
      ['blip-large', 'caption', false, 'Salesforce/blip-image-captioning-large', 'fp32'],
      ['blip-large-int8', 'caption', false, 'Salesforce/blip-image-captioning-large', 'int8'],
      ['blip-tiny', 'caption', false, 'test/fixtures/blip-tiny/caption', 'fp32'],
      ['blip-tiny-vqa', 'vqa', false, 'test/fixtures/blip-tiny/vqa', 'fp32'],
      ['blip-vqa-base', 'vqa', false, 'Salesforce/blip-vqa-base', 'fp32'],
      ['blip-vqa-base-int8', 'vqa', false, 'Salesforce/blip-vqa-base', 'int8'],
      ['blip-vqa-capfilt-large', 'vqa', false, 'Salesforce/blip-vqa-capfilt-large', 'fp32'],
      ['blip-vqa-capfilt-large-int8', 'vqa', false, 'Salesforce/blip-vqa-capfilt-large', 'int8'],
    ]);
    expect(registry.find('Salesforce/blip-vqa-capfilt-large')?.name).toBe('blip-vqa-capfilt-large');
    const base = registry.find('blip-base')!;
    if (!base.installed) {
      expect(base.installCommand).toBe('npx blip-gateway pull blip-base');
    }
    const base8 = registry.find('blip-base-int8')!;
    if (!base8.installed) {
      expect(base8.installCommand).toBe('npx blip-gateway pull blip-base-int8');
    }
    await registry.close();
  });

  it('converts its embedded defaults and serves both tasks (from a copy: the tests never write into registry/)', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'blip-committed-'));
    try {
      await cp(join(REPO_ROOT, 'registry'), copy, { recursive: true, filter: (path) => !/\/registry\/[^/]+\/(?!variant\.json$)[^/]+$/.test(path) });
      const registry = await createModelRegistry({ root: copy, repoRoot: REPO_ROOT, pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS }, startBackend: startWorkerBackend });
      await registry.prepareEmbedded();
      const caption = registry.resolve(undefined, 'caption');
      const vqa = registry.resolve(undefined, 'vqa');
      expect([caption.name, vqa.name]).toEqual(['blip-demo', 'blip-demo-vqa']);
      const image = () => new Uint8Array(readFileSync(join(REPO_ROOT, 'test/fixtures/blip-tiny/images/gray_33x33.png')));
      const [captioned] = await captionOn(await registry.acquire(caption.name), [{ image: image(), options: { maxNewTokens: 3 } }]);
      const [answered] = await answerOn(await registry.acquire(vqa.name), [{ image: image(), question: 'what color?', options: { maxNewTokens: 3 } }]);
      expect([captioned.ok, answered.ok]).toEqual([true, true]);
      // The int8 twins are converted at start-up too, from the same checkpoints, and serve.
      for (const name of ['blip-demo-int8', 'blip-demo-vqa-int8']) expect(registry.find(name)).toMatchObject({ installed: true, precision: 'int8' });
      const manifest8 = JSON.parse(readFileSync(join(copy, 'blip-demo-int8', 'manifest.json'), 'utf8'));
      expect(manifest8.precision).toBe('int8');
      const [captioned8] = await captionOn(await registry.acquire('blip-demo-int8'), [{ image: image(), options: { maxNewTokens: 3 } }]);
      const [answered8] = await answerOn(await registry.acquire('blip-demo-vqa-int8'), [{ image: image(), question: 'what color?', options: { maxNewTokens: 3 } }]);
      expect([captioned8.ok, answered8.ok]).toEqual([true, true]);
      await registry.close();
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
