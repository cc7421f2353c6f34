import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { ServiceError } from '../../../src/errors.ts';
import { createModelRegistry, type FileModelRegistry, type RegistryEvent } from '../../../src/registry/model-registry.ts';
import { readImage } from '../../helpers/fixtures.ts';
import { garbleGraph } from '../../helpers/garble-graph.ts';
import { createTempRegistry, embeddedVariant, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';
import { captionOn, answerOn, startWorkerBackend } from '../../helpers/worker-backend.ts';

const PIPELINE = { imageLimits: DEFAULT_IMAGE_LIMITS };

function thrown(run: () => unknown): ServiceError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error('expected an error');
}

/** Worker threads started while `body` runs, counted by Node itself rather than by the registry's own events. */
async function countThreads<T>(body: () => Promise<T>): Promise<{ result: T; threads: number }> {
  let threads = 0;
  const onWorker = (_: Worker) => threads++;
  process.on('worker', onWorker);
  try {
    const result = await body();
    // Node announces a new thread on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    return { result, threads };
  } finally {
    process.off('worker', onWorker);
  }
}

const captionOnce = async (worker: Awaited<ReturnType<FileModelRegistry['acquire']>>) =>
  captionOn(worker, [{ image: readImage('gray_33x33.png'), options: { maxNewTokens: 3 } }]);

describe('FileModelRegistry', () => {
  let temp: TempRegistry;
  let events: RegistryEvent[];
  let registry: FileModelRegistry;

  beforeAll(async () => {
    temp = await createTempRegistry();
    await temp.writeVariant('tiny', embeddedVariant('tiny', 'caption', { default: true, aliases: ['tiny-caption'] }));
    await temp.writeVariant('tiny-vqa', embeddedVariant('tiny-vqa', 'vqa', { default: true }));
    await temp.writeVariant('blip-base', officialVariant('blip-base', 'caption', { aliases: ['Salesforce/blip-base'] }));
    await temp.writeVariant('blip-vqa-base', officialVariant('blip-vqa-base', 'vqa', { batching: { maxBatchSize: 2, maxQueueDelayMs: 1 } }));
    await temp.writeVariant('local', officialVariant('local', 'caption'));
    await temp.install('local', 'caption');
    events = [];
    registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend, onEvent: (e) => events.push(e) });
    await registry.prepareEmbedded();
  });
  afterAll(async () => {
    await registry?.close();
    await temp?.cleanup();
  });
  afterEach(() => {
    events.length = 0;
  });

  describe('list and find', () => {
    it('lists every variant sorted by name, with what clients need to know', () => {
      expect(registry.list().map((v) => [v.name, v.task, v.installed, v.isDefault, v.state])).toEqual([
        ['blip-base', 'caption', false, false, 'unloaded'],
        ['blip-vqa-base', 'vqa', false, false, 'unloaded'],
        ['local', 'caption', true, false, 'unloaded'],
        ['tiny', 'caption', true, true, 'unloaded'],
        ['tiny-vqa', 'vqa', true, true, 'unloaded'],
      ]);
      expect(registry.find('blip-vqa-base')).toEqual({
        name: 'blip-vqa-base',
        aliases: [],
        task: 'vqa',
        description: 'blip-vqa-base for tests',
        installed: false,
        state: 'unloaded',
        loadError: null,
        isDefault: false,
        parameters: null,
        precision: 'fp32',
        bytes: null,
        memory: null,
        source: 'Salesforce/blip-vqa-base',
        revision: null,
        installCommand: 'npx blip-gateway pull blip-vqa-base',
        batching: { maxBatchSize: 2, maxQueueDelayMs: 1, maxQueueSize: 64, maxRows: 16 },
        directory: join(temp.root, 'blip-vqa-base'),
        pinned: false,
        inFlight: 0,
      });
    });

    it('reports parameters and bytes on disk of installed variants', async () => {
      const local = registry.find('local')!;
      const manifest = JSON.parse(await readFile(join(temp.root, 'local', 'manifest.json'), 'utf8'));
      expect(local.parameters).toBe(manifest.parameters);
      const files = Object.values(manifest.files as Record<string, { bytes: number }>);
      expect(local.bytes).toBe(files.reduce((sum, file) => sum + file.bytes, 0));
      expect(local.batching).toEqual({ maxBatchSize: 8, maxQueueDelayMs: 5, maxQueueSize: 64, maxRows: 16 });
    });

    it('finds by name or alias, case-sensitively', () => {
      expect(registry.find('tiny-caption')?.name).toBe('tiny');
      expect(registry.find('Salesforce/blip-base')?.name).toBe('blip-base');
      expect(registry.find('TINY')).toBeUndefined();
    });
  });

  describe('resolve', () => {
    it('gives the task default when no name is given', () => {
      expect(registry.resolve(undefined, 'caption').name).toBe('tiny');
      expect(registry.resolve(undefined, 'vqa').name).toBe('tiny-vqa');
    });

    it('resolves names and aliases', () => {
      expect(registry.resolve('local', 'caption').name).toBe('local');
      expect(registry.resolve('tiny-caption', 'caption').name).toBe('tiny');
    });

    it('refuses an unknown name with the closest names and aliases (case-insensitive edit distance)', () => {
      const error = thrown(() => registry.resolve('Tiny-VQA2', 'vqa'));
      expect(error.code).toBe('MODEL_NOT_FOUND');
      expect(error.message).toBe('Unknown model "Tiny-VQA2". Closest: tiny-vqa, tiny, tiny-caption');
      expect(error.details).toEqual({ model: 'Tiny-VQA2', suggestions: ['tiny-vqa', 'tiny', 'tiny-caption'] });
      expect(thrown(() => registry.resolve('salesforce/blip-bse', 'caption')).details?.suggestions).toEqual(['Salesforce/blip-base', 'blip-base', 'blip-vqa-base']);
    });

    it('refuses a model of the other task, naming its task', () => {
      const vqa = thrown(() => registry.resolve('tiny-vqa', 'caption'));
      expect(vqa.code).toBe('WRONG_TASK');
      expect(vqa.message).toBe('Model "tiny-vqa" is a vqa model and cannot caption images; use a caption model such as "tiny"');
      expect(vqa.details).toEqual({ model: 'tiny-vqa', task: 'vqa', requestedTask: 'caption' });
      // Wrong task wins over not installed: installing it would not help.
      expect(thrown(() => registry.resolve('blip-base', 'vqa')).message).toBe(
        'Model "blip-base" is a caption model and cannot answer questions; use a vqa model such as "tiny-vqa"',
      );
    });

    it('refuses a known variant that is not installed, with the command that installs it', () => {
      const error = thrown(() => registry.resolve('Salesforce/blip-base', 'caption'));
      const installCommand = 'npx blip-gateway pull blip-base';
      expect(error.code).toBe('MODEL_NOT_INSTALLED');
      expect(error.message).toBe(`Model "blip-base" is not installed. Install it with: ${installCommand}`);
      expect(error.details).toEqual({ model: 'blip-base', installCommand });
    });
  });

  describe('acquire', () => {
    it('loads lazily, once for concurrent first calls, and reuses the ready worker', async () => {
      expect(registry.find('tiny')?.state).toBe('unloaded');
      const { result, threads } = await countThreads(async () => {
        const first = registry.acquire('tiny');
        const second = registry.acquire('tiny-caption');
        expect(registry.find('tiny')?.state).toBe('loading');
        return Promise.all([first, second]);
      });
      const [a, b] = result;
      expect(threads).toBe(1);
      expect(a).toBe(b);
      expect(events.filter((e) => e.type === 'load-started')).toEqual([{ type: 'load-started', variant: 'tiny' }]);
      expect(registry.find('tiny')).toMatchObject({ state: 'ready', loadError: null });
      expect(await registry.acquire('tiny')).toBe(a);
      const [caption] = await captionOnce(a);
      expect(caption.ok).toBe(true);
      // Loading one variant leaves the others alone.
      expect(registry.find('tiny-vqa')?.state).toBe('unloaded');
    });

    it('refuses unknown and not-installed variants without starting anything', async () => {
      await expect(registry.acquire('nope')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
      await expect(registry.acquire('blip-base')).rejects.toMatchObject({ code: 'MODEL_NOT_INSTALLED' });
      expect(events).toEqual([]);
    });

    it('forgets a worker that dies, and the next acquire starts a fresh one', async () => {
      const worker = await registry.acquire('tiny-vqa');
      const exited = new Promise<void>((resolve) => {
        const poll = () => (registry.find('tiny-vqa')?.state === 'unloaded' ? resolve() : setTimeout(poll, 5));
        poll();
      });
      await worker.close();
      await exited;
      expect(events.filter((e) => e.type === 'worker-exited')).toEqual([{ type: 'worker-exited', variant: 'tiny-vqa', message: 'inference worker exited (code 0)' }]);
      expect(await answerOn(worker, [{ image: readImage('gray_33x33.png'), question: 'what?' }])).toMatchObject([{ ok: false, error: { code: 'INFERENCE_FAILED' } }]);

      const fresh = await registry.acquire('tiny-vqa');
      expect(fresh).not.toBe(worker);
      expect(registry.find('tiny-vqa')?.state).toBe('ready');
      const [answer] = await answerOn(fresh, [{ image: readImage('gray_33x33.png'), question: 'what is it?', options: { maxNewTokens: 3 } }]);
      expect(answer.ok).toBe(true);
    });
  });
});

describe('FileModelRegistry load failures and close', () => {
  let temp: TempRegistry;
  beforeAll(async () => {
    temp = await createTempRegistry();
    await temp.writeVariant('good', officialVariant('good', 'caption'));
    await temp.writeVariant('broken', officialVariant('broken', 'caption'));
    await temp.install('good', 'caption');
    await temp.install('broken', 'caption');
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it('keeps a failed load as `failed` with MODEL_LOAD_FAILED, and retries on the next acquire', async () => {
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    try {
      // Same size, so the folder still counts as installed; the bytes are not an ONNX graph.
      const restore = await garbleGraph(join(temp.root, 'broken'), 'vision_model.onnx');
      expect(registry.find('broken')?.installed).toBe(true);

      const failure = registry.acquire('broken');
      await expect(failure).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringMatching(/^Cannot load model "broken": MODEL_LOAD_FAILED: cannot load .*vision_model\.onnx/) });
      const info = registry.find('broken')!;
      expect(info.state).toBe('failed');
      expect(info.loadError).toEqual({ code: 'MODEL_LOAD_FAILED', message: ((await failure.catch((e) => e)) as ServiceError).message });
      // Other variants are unaffected.
      expect(registry.find('good')?.state).toBe('unloaded');

      await restore();
      const worker = await registry.acquire('broken');
      expect(registry.find('broken')).toMatchObject({ state: 'ready', loadError: null });
      expect((await captionOnce(worker))[0].ok).toBe(true);
    } finally {
      await registry.close();
    }
  });

  it('close() stops every worker, waits for loads in flight, and refuses later acquires', async () => {
    const registry = await createModelRegistry({ root: temp.root, repoRoot: temp.repoRoot, pipeline: PIPELINE, startBackend: startWorkerBackend });
    const ready = await registry.acquire('good');
    // Observed from the start, as a request handler would await it.
    const inFlight = registry.acquire('broken').catch((error: unknown) => error);
    expect(registry.find('broken')?.state).toBe('loading');

    await registry.close();
    // The load in flight finished before close() returned, and its worker was stopped rather than handed out.
    expect(await inFlight).toMatchObject({ code: 'MODEL_LOAD_FAILED', message: 'The model registry is closed' });
    expect(registry.list().map((v) => v.state)).toEqual(['unloaded', 'unloaded']);
    expect(await captionOnce(ready)).toMatchObject([{ ok: false, error: { code: 'INFERENCE_FAILED' } }]);
    await expect(registry.acquire('good')).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: 'The model registry is closed' });
    await registry.close();
  });
});
