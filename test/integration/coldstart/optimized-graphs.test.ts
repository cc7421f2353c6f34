import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { env } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOptimize } from '../../../src/cli/optimize-command.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { WorkerBackend } from '../../../src/backend/worker/worker-backend.ts';
import { startServer } from '../../../src/main.ts';
import { convertCheckpoint, CONVERTER_VERSION } from '../../../src/models/blip/convert/convert-checkpoint.ts';
import { BlipPipeline } from '../../../src/models/blip/runtime/pipeline.ts';
import { cpuFingerprint } from '../../../src/runtime/optimized-model.ts';
import { readManifest, type VariantManifest } from '../../../src/variant/manifest.ts';
import { IMAGE_NAMES, readImage } from '../../helpers/fixtures.ts';
import { capturingLogger } from '../../helpers/log-capture.ts';
import { createTempRegistry, officialVariant, type TempRegistry } from '../../helpers/temp-registry.ts';

const GRAPHS = { caption: ['vision_model.onnx', 'decoder_cross_kv.onnx', 'text_decoder.onnx'], vqa: ['vision_model.onnx', 'decoder_cross_kv.onnx', 'text_decoder.onnx', 'question_encoder.onnx'] };

/** Converts a fixture into `registry/<name>/` with or without the optimized graphs. */
async function install(temp: TempRegistry, name: string, task: 'caption' | 'vqa', optimize: boolean): Promise<string> {
  await temp.writeVariant(name, officialVariant(name, task));
  const dir = join(temp.root, name);
  await convertCheckpoint({ source: { kind: 'checkpoint', dir: task === 'caption' ? temp.captionCheckpoint : temp.vqaCheckpoint }, outDir: dir, name, optimize });
  return dir;
}

async function editManifest(dir: string, edit: (m: VariantManifest) => void): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as VariantManifest;
  edit(manifest);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

/** Loads `dir` in-process; returns the pipeline and the warnings its load reported. */
async function load(dir: string): Promise<{ pipeline: BlipPipeline; warnings: string[] }> {
  const warnings: string[] = [];
  const pipeline = await BlipPipeline.load(dir, { imageLimits: DEFAULT_IMAGE_LIMITS }, (message) => warnings.push(message));
  return { pipeline, warnings };
}

/** Greedy captions (and beam-search ones) of every fixture image: the token sequences. */
async function sequences(pipeline: BlipPipeline): Promise<number[][]> {
  const items = IMAGE_NAMES.flatMap((name) => [{ image: readImage(name) }, { image: readImage(name), options: { numBeams: 3, maxNewTokens: 8 } }]);
  const results = await pipeline.caption(items);
  return results.map((r) => {
    if (!r.ok) throw new Error(r.error.message);
    return [...r.value.sequence];
  });
}

describe('saved optimized graphs', () => {
  let temp: TempRegistry;
  const dirs: Record<string, string> = {};

  beforeAll(async () => {
    temp = await createTempRegistry();
    dirs.optimized = await install(temp, 'optimized', 'caption', true);
    dirs.plain = await install(temp, 'plain', 'caption', false);
    dirs.vqa = await install(temp, 'vqa', 'vqa', true);
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it('convert writes the optimized form of every graph and records it with the ONNX Runtime version and CPU', async () => {
    for (const [name, task] of [['optimized', 'caption'], ['vqa', 'vqa']] as const) {
      const manifest = await readManifest(dirs[name]);
      expect(manifest.converter.version).toBe(CONVERTER_VERSION);
      expect(manifest.optimized).toMatchObject({ onnxruntime: env.versions.node, cpu: cpuFingerprint(), level: 'all' });
      expect(Object.keys(manifest.optimized!.graphs).sort()).toEqual([...GRAPHS[task]].sort());
      for (const [graph, entry] of Object.entries(manifest.optimized!.graphs)) {
        expect(entry.file).toBe(graph.replace('.onnx', '.opt.onnx'));
        expect((await stat(join(dirs[name], entry.file))).size).toBe(entry.bytes);
        expect((await stat(join(dirs[name], entry.data))).size).toBe(entry.dataBytes);
        // The weights live in the data file (memory-mapped at load); prepacked ones next to the originals.
        const original = (await stat(join(dirs[name], `${graph}.data`))).size;
        expect(entry.dataBytes).toBeGreaterThan(entry.prepacked ? original : original / 2);
      }
      // ONNX Runtime 1.30 crashes running this fixture's decoder saved with prepacked weights at more than one row:
      // the verification at convert time caught it and saved that graph without them.
      const prepacked = Object.fromEntries(Object.entries(manifest.optimized!.graphs).map(([graph, entry]) => [graph, entry.prepacked]));
      expect(prepacked).toEqual(Object.fromEntries(GRAPHS[task].map((graph) => [graph, graph !== 'text_decoder.onnx'])));
    }
    expect((await readManifest(dirs.plain)).optimized).toBeUndefined();
  });

  it('loads the optimized graphs without a warning, and captions token for token like the original graphs', async () => {
    const optimized = await load(dirs.optimized);
    const plain = await load(dirs.plain);
    try {
      expect(optimized.warnings).toEqual([]);
      expect(optimized.pipeline.stats().loadedFrom).toBe('optimized');
      expect(plain.pipeline.stats().loadedFrom).toBe('original');
      expect(plain.warnings).toEqual([expect.stringMatching(/^plain: loading the original graphs.* because the variant has no saved optimized graphs; run `blip-gateway optimize .*plain`/)]);
      const expected = await sequences(plain.pipeline);
      expect(expected.every((s) => s.length > 1)).toBe(true);
      expect(await sequences(optimized.pipeline)).toEqual(expected);
    } finally {
      await optimized.pipeline.release();
      await plain.pipeline.release();
    }
  });

  it('answers VQA questions token for token like the original graphs', async () => {
    const { pipeline, warnings } = await load(dirs.vqa);
    const restore = await readFile(join(dirs.vqa, 'manifest.json'), 'utf8');
    await editManifest(dirs.vqa, (m) => delete m.optimized);
    const original = await load(dirs.vqa);
    await writeFile(join(dirs.vqa, 'manifest.json'), restore);
    try {
      expect([warnings, pipeline.stats().loadedFrom, original.pipeline.stats().loadedFrom]).toEqual([[], 'optimized', 'original']);
      const items = IMAGE_NAMES.map((name) => ({ image: readImage(name), question: 'what is in the picture?' }));
      const answers = async (p: BlipPipeline) => (await p.answer(items)).map((r) => (r.ok ? r.value.sequence : r.error.message));
      expect(await answers(pipeline)).toEqual(await answers(original.pipeline));
    } finally {
      await pipeline.release();
      await original.pipeline.release();
    }
  });

  it('falls back to the originals with a warning when the files do not match the manifest', async () => {
    const dir = await install(temp, 'truncated', 'caption', true);
    const { data, dataBytes } = (await readManifest(dir)).optimized!.graphs['text_decoder.onnx'];
    await writeFile(join(dir, data), 'half a file');
    const { pipeline, warnings } = await load(dir);
    try {
      expect(pipeline.stats().loadedFrom).toBe('original');
      expect(warnings).toEqual([`truncated: loading the original graphs, optimized at every load (slower), because ${data} has 11 bytes, the manifest says ${dataBytes}; run \`blip-gateway optimize ${dir}\` to write optimized graphs for this machine`]);
    } finally {
      await pipeline.release();
    }
  });

  it('a manifest written by another ONNX Runtime loads the originals in the worker, says why in the server log, and `optimize` fixes it', async () => {
    const dir = await install(temp, 'old-ort', 'caption', true);
    await editManifest(dir, (m) => (m.optimized!.onnxruntime = '1.17.0'));

    const { logger, lines } = capturingLogger();
    const config = loadConfig({ NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', REGISTRY_DIR: temp.root, REPO_ROOT: temp.repoRoot });
    const server = await startServer(config, { logger });
    try {
      const backend = await server.registry.acquire('old-ort');
      expect((await backend.stats()).loadedFrom).toBe('original');
      const warnings = lines().filter((line) => line.level === 40);
      expect(warnings).toEqual([
        expect.objectContaining({
          variantDir: dir,
          msg: `old-ort: loading the original graphs, optimized at every load (slower), because its optimized graphs were written by onnxruntime 1.17.0, this is ${env.versions.node}; run \`blip-gateway optimize ${dir}\` to write optimized graphs for this machine`,
        }),
      ]);
    } finally {
      await server.close();
    }

    const converted = (await readManifest(dir)).optimized!;
    await runOptimize(dir);
    expect((await readManifest(dir)).optimized).toEqual({ ...converted, onnxruntime: env.versions.node });
    const messages: string[] = [];
    const backend = await WorkerBackend.start(dir, { imageLimits: DEFAULT_IMAGE_LIMITS }, (message) => messages.push(message));
    try {
      expect([messages, (await backend.stats()).loadedFrom]).toEqual([[], 'optimized']);
    } finally {
      await backend.close();
    }
  });

  it('a manifest written on another kind of CPU loads the originals', async () => {
    const dir = await install(temp, 'other-cpu', 'caption', true);
    await editManifest(dir, (m) => (m.optimized!.cpu = 'x64-0000000000000000'));
    const { pipeline, warnings } = await load(dir);
    try {
      expect(pipeline.stats().loadedFrom).toBe('original');
      expect(warnings).toEqual([expect.stringContaining(`because its optimized graphs were written on another kind of CPU (x64-0000000000000000, this is ${cpuFingerprint()})`)]);
    } finally {
      await pipeline.release();
    }
  });

  it('refuses a malformed optimized record, naming the field', async () => {
    const dir = await install(temp, 'malformed', 'caption', true);
    await editManifest(dir, (m) => ((m.optimized!.graphs['vision_model.onnx'] as { bytes: unknown }).bytes = 'many'));
    await expect(readManifest(dir)).rejects.toMatchObject({
      code: 'INVALID_VARIANT',
      message: `${join(dir, 'manifest.json')}: expected an integer ≥ 0 for optimized.graphs["vision_model.onnx"].bytes but received "many"`,
    });
  });
});
