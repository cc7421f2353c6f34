/**
 * `node --import tsx tools/quality/int8-sweep.ts --reference FP32_DIR --base BASE_DIR --work DIR --plan PLAN.json
 *  [--images 8] [--steps 20]`: which int8 weights cost the gate's top-1 agreement (issue 12 item 2).
 *
 * An experiment tool, not the gate (`npm run quality:int8` stays the gate). It runs many int8 configurations against
 * one fp32 reference without converting blip-base again for each:
 *   - REFERENCE_DIR: the plain fp32 variant; its greedy tokens and logits are computed once (cached in `work`).
 *   - BASE_DIR: the same weights converted in fp32 with int8 cross K/V (`crossKvPrecision: 'int8'`), i.e. the graphs
 *     of an int8 variant before quantizeModel. Each configuration quantizes some of its graphs, leaving the weights
 *     its `keep` regular expression matches in float32 (a graph absent from `quantize` stays entirely fp32).
 *   - PLAN.json: `[{ "name": "...", "quantize": { "vision_model.onnx": { "form"?: "DynamicQuantizeMatMul", "keep"?: "regex" }, ... } }]`.
 * Quantized graphs are cached in `work/graphs` by (file, form, keep), so a configuration that changes one graph only
 * quantizes that graph. Images go through in groups of 8, like the gate (DynamicQuantizeMatMul's activation scale is
 * per tensor, so batch companions matter); the first group is exactly the gate's 8 scenes.
 *
 * Per configuration: misses (teacher-forced top-1 disagreements) in the first 8 images and over all, the flipped
 * (image, step) pairs, fp32's margin at each, and the mean RMS logit error in units of the row's logit standard
 * deviation: a continuous measure of the noise, steadier than a count of near-tie flips.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { quantizeAndEncode, type Int8Form } from '../../src/onnx/quantize.ts';
import { readManifest, type VariantManifest } from '../../src/variant/manifest.ts';
import { argmaxRows, cosine, std } from './int8-compare.ts';
import { scenePixels } from './int8-quality.ts';

const { values: args } = parseArgs({
  options: {
    reference: { type: 'string' },
    base: { type: 'string' },
    work: { type: 'string' },
    plan: { type: 'string' },
    images: { type: 'string', default: '8' },
    steps: { type: 'string', default: '20' },
    json: { type: 'string' },
  },
});
for (const key of ['reference', 'base', 'work', 'plan'] as const) if (!args[key]) throw new Error(`--${key} is required`);
const images = Number(args.images);
const steps = Number(args.steps);
const GROUP = 8;
const log = (message: string) => process.stderr.write(`[int8-sweep] ${message}\n`);

interface GraphPlan {
  form?: Int8Form;
  /** MatMulNBits only (quantize.ts default 128). */
  blockSize?: number;
  accuracyLevel?: 0 | 4;
  keep?: string;
}
interface Config {
  name: string;
  quantize: Record<string, GraphPlan>;
}

/** The fp32 reference: per group, its greedy tokens `[rows][steps]` and logits per step `[rows * vocab]`. */
interface Reference {
  tokens: number[][];
  logits: Float32Array[];
  embeds: Float32Array;
}

const plan = JSON.parse(await readFile(args.plan!, 'utf8')) as Config[];
const baseManifest = await readManifest(args.base!);
if (baseManifest.crossKvPrecision !== 'int8' || baseManifest.precision !== 'fp32') log(`warning: ${args.base} is ${baseManifest.precision} weights with ${baseManifest.crossKvPrecision ?? 'fp32'} cross K/V, not fp32 + int8`);
const vocab = baseManifest.dims.vocabSize;
const files = [baseManifest.graphs.vision, baseManifest.graphs.crossKv, baseManifest.graphs.decoder];

async function graphVariant(file: string, graph: GraphPlan | undefined): Promise<string> {
  if (!graph) return args.base!;
  const form = graph.form ?? 'DynamicQuantizeMatMul';
  const key = createHash('sha256').update(`${file}|${form}|${graph.blockSize ?? ''}|${graph.accuracyLevel ?? ''}|${graph.keep ?? ''}`).digest('hex').slice(0, 12);
  const dir = join(args.work!, 'graphs', `${file.replace('.onnx', '')}-${key}`);
  if (existsSync(join(dir, file))) return dir;
  log(`quantizing ${file} (${form}, keep ${graph.keep ?? 'nothing'}) into ${dir}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  // quantizeModel deletes its source data file (read under the name the graph records): it gets a copy.
  await mkdir(join(dir, 'fp32'));
  const source = join(dir, 'fp32', `${file}.data`);
  await writeFile(source, await readFile(join(args.base!, `${file}.data`)));
  const model = onnxProto.onnx.ModelProto.decode(await readFile(join(args.base!, file)));
  const keep = graph.keep === undefined ? undefined : new RegExp(graph.keep);
  const result = quantizeAndEncode(model, { form, blockSize: graph.blockSize, accuracyLevel: graph.accuracyLevel, keepFloat: keep ? (name) => keep.test(name) : undefined, from: source, to: join(dir, `${file}.data`) });
  await writeFile(join(dir, `${file}.tmp`), result.bytes);
  await rename(join(dir, `${file}.tmp`), join(dir, file));
  await writeFile(join(dir, 'info.json'), JSON.stringify({ file, form, keep: graph.keep, quantized: result.quantized, dataBytes: result.data.bytes, sha256: result.data.sha256 }));
  return dir;
}

/** A variant folder of symlinks to each graph's chosen version, loaded like any variant (originals, no saved optimized graphs). */
async function configFolder(config: Config): Promise<{ dir: string; dataBytes: Record<string, number> }> {
  const dir = join(args.work!, 'configs', config.name.replace(/[^\w.-]/g, '_'));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dataBytes: Record<string, number> = {};
  for (const file of files) {
    const from = await graphVariant(file, config.quantize[file]);
    await symlink(join(from, file), join(dir, file));
    await symlink(join(from, `${file}.data`), join(dir, `${file}.data`));
    dataBytes[file] = statSync(join(from, `${file}.data`)).size;
  }
  await symlink(join(args.base!, baseManifest.tokenizer.file), join(dir, baseManifest.tokenizer.file));
  const { optimized: _optimized, ...manifest } = baseManifest;
  // Data sizes as written, so that decode-bytes.ts (and tools/kvcache/decode-profile.ts) count this configuration's bytes.
  const sizes: VariantManifest['files'] = {};
  for (const file of files) {
    const info = config.quantize[file] ? (JSON.parse(await readFile(join(await graphVariant(file, config.quantize[file]), 'info.json'), 'utf8')) as { sha256: string }) : undefined;
    sizes[`${file}.data`] = { bytes: dataBytes[file], sha256: info?.sha256 ?? baseManifest.files[`${file}.data`].sha256 };
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, precision: 'int8', files: { ...manifest.files, ...sizes } }));
  return { dir, dataBytes };
}

async function loadModel(dir: string): Promise<BlipModel> {
  return BlipModel.load(dir, await readManifest(dir), { intraOpThreads: 1 }, () => {});
}

async function decodeGroup(model: BlipModel, embeds: Float32Array, rows: number, forced: number[][] | undefined): Promise<{ tokens: number[][]; logits: Float32Array[] }> {
  const tokensPerImage = model.imageTokens;
  const decoder = model.createDecoder(await model.crossContexts(embeds, rows, tokensPerImage, new Array<number>(rows).fill(tokensPerImage)));
  const bos = model.manifest.tokenizer.ids.bos;
  const identity = Array.from({ length: rows }, (_, i) => i);
  let logits = await decoder.start(identity.map((i) => ({ context: i, tokens: [bos] })));
  const tokens: number[][] = identity.map(() => []);
  const all: Float32Array[] = [];
  for (let step = 0; step < steps; step++) {
    all.push(logits.slice());
    const chosen = forced ? forced.map((t) => t[step]) : argmaxRows(logits, rows);
    chosen.forEach((token, i) => tokens[i].push(token));
    if (step + 1 < steps) logits = await decoder.next(identity, chosen);
  }
  decoder.dispose();
  return { tokens, logits: all };
}

async function reference(pixels: Float32Array[]): Promise<Reference[]> {
  const cache = join(args.work!, `reference-${images}x${steps}.bin`);
  const groups = pixels.map((p) => p.length / one);
  if (existsSync(cache)) {
    log(`reusing ${cache}`);
    const raw = new Float32Array(new Uint8Array(await readFile(cache)).buffer);
    let at = 0;
    const take = (n: number) => raw.subarray(at, (at += n));
    return groups.map((rows) => {
      const tokens = Array.from({ length: rows }, () => Array.from(take(steps)));
      const logits = Array.from({ length: steps }, () => take(rows * vocab).slice());
      const embeds = take(rows * baseManifest.dims.imageTokens * baseManifest.dims.visionHidden).slice();
      return { tokens, logits, embeds };
    });
  }
  log(`fp32 reference from ${args.reference}`);
  const model = await loadModel(args.reference!);
  const out: Reference[] = [];
  for (const [g, p] of pixels.entries()) {
    const embeds = await model.encodeImages(p, groups[g]);
    const { tokens, logits } = await decodeGroup(model, embeds, groups[g], undefined);
    out.push({ tokens, logits, embeds });
  }
  await model.release();
  const parts = out.flatMap((r) => [...r.tokens.map((t) => Float32Array.from(t)), ...r.logits, r.embeds]);
  const raw = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) raw.set(p, (at += p.length) - p.length);
  await writeFile(cache, new Uint8Array(raw.buffer));
  return out;
}

// scenePixels reads only the manifest's preprocessing settings.
const scenes = await scenePixels({ manifest: baseManifest } as BlipModel, images);
const one = scenes.length / images;
const pixels: Float32Array[] = [];
for (let from = 0; from < images; from += GROUP) pixels.push(scenes.subarray(from * one, Math.min(images, from + GROUP) * one));
const ref = await reference(pixels);
const results = [];
for (const config of plan) {
  const started = performance.now();
  const { dir, dataBytes } = await configFolder(config);
  const model = await loadModel(dir);
  const flips: { image: number; step: number; margin: number }[] = [];
  const cosines: number[] = [];
  let rmsSum = 0;
  for (const [g, p] of pixels.entries()) {
    const rows = ref[g].tokens.length;
    const embeds = await model.encodeImages(p, rows);
    const perImage = embeds.length / rows;
    for (let r = 0; r < rows; r++) cosines.push(cosine(ref[g].embeds, embeds, r * perImage, (r + 1) * perImage));
    const { logits } = await decodeGroup(model, embeds, rows, ref[g].tokens);
    for (let step = 0; step < steps; step++) {
      const ours = argmaxRows(logits[step], rows);
      for (let r = 0; r < rows; r++) {
        const theirs = ref[g].tokens[r][step];
        const from = r * vocab;
        const sigma = std(ref[g].logits[step], from, from + vocab);
        let squares = 0;
        for (let v = from; v < from + vocab; v++) squares += (logits[step][v] - ref[g].logits[step][v]) ** 2;
        rmsSum += Math.sqrt(squares / vocab) / sigma;
        if (ours[r] !== theirs) flips.push({ image: g * GROUP + r, step, margin: Math.round(((ref[g].logits[step][from + theirs] - ref[g].logits[step][from + ours[r]]) / sigma) * 1000) / 1000 });
      }
    }
  }
  await model.release();
  const result = {
    name: config.name,
    gateMisses: flips.filter((f) => f.image < GROUP).length,
    misses: flips.length,
    decisions: images * steps,
    agreement: 1 - flips.length / (images * steps),
    rmsLogitError: Math.round((rmsSum / (images * steps)) * 10000) / 10000,
    minCosine: Math.min(...cosines),
    dataBytes,
    flips,
    seconds: Math.round((performance.now() - started) / 1000),
  };
  log(`${config.name}: gate misses ${result.gateMisses}/${Math.min(GROUP, images) * steps}, all ${result.misses}/${result.decisions}, rms ${result.rmsLogitError}, cos ${result.minCosine.toFixed(5)}, ${result.seconds} s`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  results.push(result);
  if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
}
