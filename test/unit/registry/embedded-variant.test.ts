import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { createModelRegistry, type RegistryEvent } from '../../../src/registry/model-registry.ts';
import { CONVERTER_VERSION } from '../../../src/models/blip/convert/convert-checkpoint.ts';
import { createTempRegistry, embeddedVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { startWorkerBackend } from '../../helpers/worker-backend.ts';

const PIPELINE = { imageLimits: DEFAULT_IMAGE_LIMITS };
const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

describe('embedded variants', () => {
  let temp: TempRegistry;
  beforeEach(async () => {
    temp = await createTempRegistry();
    await temp.writeVariant('tiny', embeddedVariant('tiny', 'caption', { default: true }));
    await temp.writeVariant('tiny-vqa', embeddedVariant('tiny-vqa', 'vqa', { default: true }));
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  async function prepare(): Promise<{ events: RegistryEvent[]; registry: Awaited<ReturnType<typeof createModelRegistry>> }> {
    const events: RegistryEvent[] = [];
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend, onEvent: (e) => events.push(e) });
    await registry.prepareEmbedded();
    return { events, registry };
  }

  const conversions = (events: RegistryEvent[]) => events.filter((e) => e.type === 'convert-started').map((e) => e.variant);
  const manifestOf = async (name: string) => JSON.parse(await readFile(join(temp.root, name, 'manifest.json'), 'utf8'));

  it('are not installed before prepareEmbedded, and say how to convert them by hand', async () => {
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    expect(registry.find('tiny')).toMatchObject({
      installed: false,
      source: 'checkpoints/caption',
      installCommand: 'npx blip-gateway convert checkpoints/caption --out registry/tiny',
      parameters: null,
      bytes: null,
    });
  });

  it('are converted when fresh, then skipped while up to date', async () => {
    const first = await prepare();
    expect(conversions(first.events)).toEqual(['tiny', 'tiny-vqa']);
    expect(first.events.find((e) => e.type === 'convert-started')).toEqual({ type: 'convert-started', variant: 'tiny', reason: 'no manifest.json' });
    const tiny = first.registry.find('tiny')!;
    expect(tiny).toMatchObject({ installed: true, installCommand: null, state: 'unloaded' });
    expect(tiny.parameters).toBeGreaterThan(0);
    expect(tiny.bytes).toBeGreaterThan(0);
    expect(await manifestOf('tiny')).toMatchObject({ name: 'tiny', task: 'caption' });
    expect(await manifestOf('tiny-vqa')).toMatchObject({ name: 'tiny-vqa', task: 'vqa' });
    // Nothing but the converted files is left behind (no lock, no scratch folder).
    expect((await readdir(join(temp.root, 'tiny'))).sort()).toEqual(
      [
        ...['decoder_cross_kv.onnx', 'decoder_cross_kv.onnx.data', 'decoder_cross_kv.opt.onnx', 'decoder_cross_kv.opt.onnx.data', 'manifest.json'],
        ...['text_decoder.onnx', 'text_decoder.onnx.data', 'text_decoder.opt.onnx', 'text_decoder.opt.onnx.data', 'tokenizer.json', 'variant.json'],
        ...['vision_model.onnx', 'vision_model.onnx.data', 'vision_model.opt.onnx', 'vision_model.opt.onnx.data'],
      ],
    );
    const createdAt = (await manifestOf('tiny')).converter.createdAt;

    const second = await prepare();
    expect(conversions(second.events)).toEqual([]);
    expect(second.events.filter((e) => e.type === 'convert-skipped')).toEqual([
      { type: 'convert-skipped', variant: 'tiny', reason: 'up to date' },
      { type: 'convert-skipped', variant: 'tiny-vqa', reason: 'up to date' },
    ]);
    expect((await manifestOf('tiny')).converter.createdAt).toBe(createdAt);
    expect(second.registry.find('tiny')?.installed).toBe(true);
  });

  it('are converted again when the checkpoint weights change', async () => {
    await prepare();
    const before = await manifestOf('tiny');
    // Nudge the lowest mantissa byte of the last float: still a valid checkpoint, different weights.
    const weightsFile = join(temp.captionCheckpoint, 'model.safetensors');
    const bytes = await readFile(weightsFile);
    bytes[bytes.length - 4] ^= 1;
    await writeFile(weightsFile, bytes);

    const { events, registry } = await prepare();
    expect(conversions(events)).toEqual(['tiny']);
    expect(events.find((e) => e.type === 'convert-started')).toMatchObject({ reason: `${weightsFile} changed` });
    const after = await manifestOf('tiny');
    expect(after.source.weightsSha256).not.toBe(before.source.weightsSha256);
    expect(registry.find('tiny')?.installed).toBe(true);
  });

  it('are converted again when the converter version changed or the files are damaged', async () => {
    await prepare();
    const manifest = await manifestOf('tiny');
    await writeFile(join(temp.root, 'tiny', 'manifest.json'), JSON.stringify({ ...manifest, converter: { ...manifest.converter, version: '0' } }));
    await writeFile(join(temp.root, 'tiny-vqa', 'tokenizer.json'), '{}');
    const { events } = await prepare();
    expect(events.filter((e) => e.type === 'convert-started')).toEqual([
      { type: 'convert-started', variant: 'tiny', reason: `converted by converter version 0, current is ${CONVERTER_VERSION}` },
      { type: 'convert-started', variant: 'tiny-vqa', reason: expect.stringContaining('tokenizer.json has 2 bytes') },
    ]);
  });

  it('convert once when two registries (servers) prepare the same folder at once', async () => {
    const events: RegistryEvent[] = [];
    const open = () => createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend, onEvent: (e) => events.push(e) });
    const [a, b] = await Promise.all([open(), open()]);
    await Promise.all([a.prepareEmbedded(), b.prepareEmbedded()]);
    expect(conversions(events).sort()).toEqual(['tiny', 'tiny-vqa']);
    // The second waits for the first's lock on the first variant; on the second it may arrive after the work is done.
    expect(events.filter((e) => e.type === 'convert-skipped').map((e) => e.variant)).toEqual(['tiny', 'tiny-vqa']);
    expect(events).toContainEqual({ type: 'convert-skipped', variant: 'tiny', reason: 'converted by another process' });
    expect(a.find('tiny')?.installed && b.find('tiny')?.installed).toBe(true);
  });

  it('convert once when two server processes start at once', async () => {
    const script = join(import.meta.dirname, 'prepare-process.ts');
    const start = () => run(process.execPath, ['--import', 'tsx', script, temp.root, temp.repoRoot], { cwd: REPO_ROOT });
    const outputs = await Promise.all([start(), start()]);
    const events = outputs.flatMap(({ stdout }) => stdout.trim().split('\n').map((line) => JSON.parse(line) as RegistryEvent));
    expect(conversions(events).sort()).toEqual(['tiny', 'tiny-vqa']);
    expect(events.filter((e) => e.type === 'convert-skipped').map((e) => e.variant).sort()).toEqual(['tiny', 'tiny-vqa']);
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    expect(registry.list().map((v) => v.installed)).toEqual([true, true]);
    // And the files are whole: a worker loads them.
    await registry.acquire('tiny');
    await registry.close();
  });

  it('take over the lock and scratch folder of a process that died while converting', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(join(temp.root, 'tiny', '.convert.lock'), `${dead}\n`);
    await mkdir(join(temp.root, 'tiny', `.converting-${dead}-0000`));
    await writeFile(join(temp.root, 'tiny', `.converting-${dead}-0000`, 'vision_model.onnx'), 'half');
    const { events, registry } = await prepare();
    expect(conversions(events)).toEqual(['tiny', 'tiny-vqa']);
    expect(events.some((e) => e.type === 'convert-waiting')).toBe(false);
    expect((await readdir(join(temp.root, 'tiny'))).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(registry.find('tiny')?.installed).toBe(true);
  });

  it('refuse a checkpoint of the other task, naming variant.json and the checkpoint config', async () => {
    const file = await temp.writeVariant('tiny', embeddedVariant('tiny', 'caption', { default: true, source: { checkpoint: 'checkpoints/vqa', embedded: true } }));
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    await expect(registry.prepareEmbedded()).rejects.toMatchObject({
      code: 'INVALID_VARIANT',
      message: `${file}: expected "vqa" (the task of ${join(temp.vqaCheckpoint, 'config.json')}) for task but received "caption"`,
    });
    expect(registry.find('tiny')?.installed).toBe(false);
  });
});
