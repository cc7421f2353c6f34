/**
 * `npm run quality:int8 [-- --config NAME] [-- --images 8] [-- --steps 20] [-- --cache DIR] [-- --json FILE]`: the int8
 * quality gate on a real-size model with seeded random weights (test/fixtures/configs/NAME.json, blip-base by
 * default), converted once in fp32 and once in int8 from the same seed:
 *   - image-embedding cosine similarity int8 vs fp32, every image ≥ 0.99;
 *   - teacher-forced top-1 agreement of the decoder over `steps` steps on `images` images ≥ 97 %.
 * Also reported, not gated: how much an int8 image embedding changes when the image shares its encoder pass with
 * others (DynamicQuantizeMatMul quantizes each activation tensor with one scale for the whole batch).
 * Exits 1 when the gate fails. A correctness measurement: the timings it prints are incidental.
 *
 * Random weights are a weak proxy for real-weight quantization error: trained weights and activations have outlier
 * channels that random ones lack, so passing here is necessary, not sufficient.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { convertCheckpoint, CONVERTER_VERSION } from '../../src/models/blip/convert/convert-checkpoint.ts';
import { quantizeAndEncode, type Int8Form } from '../../src/onnx/quantize.ts';
import { readManifest, type Precision } from '../../src/variant/manifest.ts';
import { cosine } from './int8-compare.ts';
import { INT8_GATE, measureInt8Quality } from './int8-quality.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: 'blip-image-captioning-base' },
    images: { type: 'string', default: '8' },
    steps: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    cache: { type: 'string', default: join(REPO, 'bench-results', 'quality-cache') },
    threads: { type: 'string', default: '1' },
    /** 'chosen' (the converter's per-graph choice), or one form for every graph: DynamicQuantizeMatMul, MatMulNBits. */
    form: { type: 'string', default: 'chosen' },
    /** Overrides --form for the text decoder step graph only. */
    'decoder-form': { type: 'string' },
    /** Experiments: weights (a regular expression on initializer names) left in float32, quantizing the fp32 folder. */
    'keep-float': { type: 'string' },
    json: { type: 'string' },
  },
});
const GATE = INT8_GATE;
const images = Number(args.images);
const steps = Number(args.steps);
const log = (message: string) => process.stderr.write(`[int8-gate] ${message}\n`);

if (!['chosen', 'DynamicQuantizeMatMul', 'MatMulNBits'].includes(args.form!)) throw new Error(`Expected chosen, DynamicQuantizeMatMul or MatMulNBits for --form but received ${args.form}`);
const GRAPHS = ['vision_model.onnx', 'decoder_cross_kv.onnx', 'text_decoder.onnx', 'question_encoder.onnx'];
const FORMS = ['DynamicQuantizeMatMul', 'MatMulNBits'];
if (args['decoder-form'] !== undefined && !FORMS.includes(args['decoder-form'])) throw new Error(`Expected ${FORMS.join(' or ')} for --decoder-form but received ${args['decoder-form']}`);
const int8Forms: Record<string, Int8Form> = args.form === 'chosen' ? {} : Object.fromEntries(GRAPHS.map((file) => [file, args.form as Int8Form]));
if (args['decoder-form']) int8Forms['text_decoder.onnx'] = args['decoder-form'] as Int8Form;
const keepFloat = args['keep-float'] === undefined ? undefined : new RegExp(args['keep-float']);
const formLabel = `${args.form}${args['decoder-form'] ? `+decoder-${args['decoder-form']}` : ''}${keepFloat ? `+keep-${keepFloat.source.replace(/[^\w.-]/g, '_')}` : ''}`;

async function variant(precision: Precision): Promise<string> {
  const form = precision === 'int8' ? `-${formLabel}` : '';
  const dir = join(args.cache!, `${args.config}-seed${args.seed}-${precision}${form}-v${CONVERTER_VERSION}`);
  try {
    const manifest = await readManifest(dir);
    if (manifest.precision === precision) {
      log(`reusing ${dir}`);
      return dir;
    }
  } catch {
    // Not converted yet.
  }
  log(`converting ${args.config} (random weights, seed ${args.seed}) in ${precision} into ${dir}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const configFile = join(REPO, 'test/fixtures/configs', `${args.config}.json`);
  await convertCheckpoint({ source: { kind: 'random', configFile, seed: Number(args.seed) }, outDir: dir, name: args.config, precision, int8Forms });
  return dir;
}

/** The experiment path: quantizes the converted fp32 folder graph by graph, leaving `keep` weights in float32. */
async function quantizedCopy(fp32Dir: string, keep: RegExp): Promise<string> {
  const dir = join(args.cache!, `${args.config}-seed${args.seed}-int8-${formLabel}-v${CONVERTER_VERSION}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'fp32'), { recursive: true });
  const manifest = await readManifest(fp32Dir);
  for (const file of Object.values(manifest.graphs) as string[]) {
    await copyFile(join(fp32Dir, `${file}.data`), join(dir, 'fp32', `${file}.data`));
    const model = onnxProto.onnx.ModelProto.decode(await readFile(join(fp32Dir, file)));
    const form = int8Forms[file] ?? 'DynamicQuantizeMatMul';
    const result = quantizeAndEncode(model, { form, keepFloat: (name) => keep.test(name), from: join(dir, 'fp32', `${file}.data`), to: join(dir, `${file}.data`) });
    await writeFile(join(dir, file), result.bytes);
  }
  await copyFile(join(fp32Dir, manifest.tokenizer.file), join(dir, manifest.tokenizer.file));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, precision: 'int8' }));
  return dir;
}

const started = performance.now();
const fp32Dir = await variant('fp32');
const int8Dir = keepFloat ? await quantizedCopy(fp32Dir, keepFloat) : await variant('int8');
const options = { intraOpThreads: Number(args.threads) };
const fp32 = await BlipModel.load(fp32Dir, await readManifest(fp32Dir), options);
const int8 = await BlipModel.load(int8Dir, await readManifest(int8Dir), options);

log(`comparing on ${images} images, ${steps} teacher-forced steps`);
const quality = await measureInt8Quality(fp32, int8, images, steps);
const { comparison, pixels, minCosine, meanCosine, passed } = quality;
const one = pixels.length / images;
// The first image alone through int8, against its embedding in the batch of all images.
const batched = await int8.encodeImages(pixels, images);
const alone = await int8.encodeImages(pixels.subarray(0, one), 1);
const batchInvariance = cosine(alone, batched, 0, alone.length);
// The same for fp32, as the baseline: ONNX Runtime's float kernels need not be bit-identical across batch sizes either.
const fp32Alone = await fp32.encodeImages(pixels.subarray(0, one), 1);
const fp32Batched = await fp32.encodeImages(pixels, images);
const fp32BatchInvariance = cosine(fp32Alone, fp32Batched, 0, fp32Alone.length);
await fp32.release();
await int8.release();

const report = {
  config: args.config,
  form: formLabel,
  randomSeed: Number(args.seed),
  images,
  steps,
  gate: GATE,
  embedding_cosine: { min: minCosine, mean: meanCosine, per_image: comparison.embeddingCosines },
  top1_agreement: comparison.top1Agreement,
  median_top2_gap_in_logit_std: Math.round(comparison.medianTop2Gap * 1000) / 1000,
  disagreement_margins_in_logit_std: comparison.disagreementMargins.map((m) => Math.round(m * 1000) / 1000),
  int8_batch_invariance_cosine: batchInvariance,
  fp32_batch_invariance_cosine: fp32BatchInvariance,
  passed,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
if (args.json) await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
log(
  `embedding cosine min ${minCosine.toFixed(5)} (gate ${GATE.embeddingCosine}), top-1 agreement ${(100 * comparison.top1Agreement).toFixed(1)} % ` +
    `(gate ${100 * GATE.top1Agreement} %): ${passed ? 'PASSED' : 'FAILED'}`,
);
process.exitCode = passed ? 0 : 1;
