import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { BlipConfig } from '../checkpoint/blip-config.ts';
import { parseBlipConfig, readBlipConfig } from '../checkpoint/config-reader.ts';
import { openWeights } from '../../../checkpoint/open-weights.ts';
import { parsePreprocessorConfig, readPreprocessorConfig, type PreprocessorConfig } from '../checkpoint/preprocessor-config.ts';
import { createRandomWeights } from '../checkpoint/random-weights.ts';
import { readTokenizerJson } from '../../../checkpoint/tokenizer-files.ts';
import { validateWeights } from '../checkpoint/weight-spec.ts';
import type { WeightSource } from '../../../checkpoint/weight-source.ts';
import { GraphBuilder } from '../../../onnx/graph-builder.ts';
import { quantizeAndEncode, type Int8Form } from '../../../onnx/quantize.ts';
import { WeightFile } from '../../../onnx/weight-file.ts';
import { writeOptimizedGraphs } from '../../../runtime/optimized-model.ts';
import { MANIFEST_FILE, MANIFEST_FORMAT, type GraphFiles, type Precision, type VariantManifest } from '../../../variant/manifest.ts';
import { buildCrossKvGraph, buildDecoderStepGraph, buildQuestionEncoderGraph } from './text-graphs.ts';
import { buildVisionGraph, imageTokenCount } from './vision-graph.ts';
import { WeightLoader } from './weight-loader.ts';
import { writeSyntheticVocabulary } from './synthetic-vocabulary.ts';
import { verificationDims } from '../verification-dims.ts';

/**
 * 3: saved optimized graphs (manifest `optimized`). 5: the decoder step reads a runtime-owned self-attention cache
 * buffer and outputs only its new keys and values (`new_key_i`), instead of gathering and concatenating the cache
 * into `present_key_i`: folders of an older version must be converted again.
 */
export const CONVERTER_VERSION = '5';

export type ConvertSource =
  | { kind: 'checkpoint'; dir: string }
  /** Real-size models for benchmarks: a config.json, seeded random weights, and a tokenizer (synthetic unless given). */
  | { kind: 'random'; configFile: string; seed: number; tokenizerDir?: string };

export interface ConvertOptions {
  source: ConvertSource;
  outDir: string;
  name?: string;
  /** 'int8' quantizes the MatMul weights of every graph (default 'fp32'). */
  precision?: Precision;
  /** Overrides the cross K/V precision (default: int8 for int8 variants, else fp32), for measurements. */
  crossKvPrecision?: 'fp32' | 'int8';
  /** Overrides the int8 operator form of some graphs, by file name (for measurements). */
  int8Forms?: Record<string, Int8Form>;
  /** Called as weights are written; `done`/`total` in bytes of float32 weights. */
  onProgress?: (event: { graph: string; done: number; total: number }) => void;
  /**
   * Also write ONNX Runtime's optimized form of every graph, for fast loading on this machine (default true;
   * runtime/optimized-model.ts). It takes about as long as loading the variant three times, and about twice the
   * weights' disk space (the prepacked weights are saved next to the originals).
   */
  optimize?: boolean;
  onWarning?: (message: string) => void;
}

const GRAPH_FILES: Required<GraphFiles> = {
  vision: 'vision_model.onnx',
  crossKv: 'decoder_cross_kv.onnx',
  decoder: 'text_decoder.onnx',
  questionEncoder: 'question_encoder.onnx',
};
const TOKENIZER_FILE = 'tokenizer.json';
/** The int8 operator form per graph, chosen by measurement (README "Precision"). */
const INT8_FORMS: Record<string, Int8Form> = {
  [GRAPH_FILES.vision]: 'DynamicQuantizeMatMul',
  [GRAPH_FILES.crossKv]: 'DynamicQuantizeMatMul',
  [GRAPH_FILES.decoder]: 'DynamicQuantizeMatMul',
  [GRAPH_FILES.questionEncoder]: 'DynamicQuantizeMatMul',
};

/** Converts a Hugging Face BLIP checkpoint (or a config with random weights) into a variant folder. */
export async function convertCheckpoint(options: ConvertOptions): Promise<VariantManifest> {
  const warn = options.onWarning ?? (() => {});
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });

  const { config, weights, preprocess, tokenizer, checkpoint, weightsSha256, randomSeed } = await openSource(options.source);
  try {
    config.warnings.forEach(warn);
    validateWeights(weights, config).warnings.forEach(warn);


    let done = 0;
    const totalBytes = weights.list().reduce((sum, info) => sum + info.shape.reduce((a, b) => a * b, 1) * 4, 0);
    let graph = '';
    const loader = new WeightLoader(weights, (event) => {
      done += event.bytes;
      options.onProgress?.({ graph, done, total: totalBytes });
    });
    loader.alias('text_decoder.cls.predictions.decoder.weight', 'text_decoder.bert.embeddings.word_embeddings.weight');

    const files: VariantManifest['files'] = {};
    const build = async (file: string, doc: string, body: (g: GraphBuilder) => Promise<void>): Promise<void> => {
      graph = file;
      const int8 = options.precision === 'int8';
      const data = new WeightFile(join(outDir, `${file}.data${int8 ? '.fp32' : ''}`));
      const g = new GraphBuilder(file.replace(/\.onnx$/, ''), data);
      await body(g);
      let dataInfo = data.close();
      let bytes = g.encode(doc);
      if (int8) ({ bytes, data: dataInfo } = quantizeAndEncode(g.toModel(doc), { form: options.int8Forms?.[file] ?? INT8_FORMS[file], from: data.path, to: join(outDir, `${file}.data`) }));
      await writeFile(join(outDir, file), bytes);
      files[file] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
      files[`${file}.data`] = dataInfo;
    };

    // int8 variants keep the cross-attention K/V in int8 too (README "Precision"): decode steps read a quarter of the bytes.
    const crossKv = options.crossKvPrecision ?? (options.precision === 'int8' ? 'int8' : 'fp32');
    const graphs: GraphFiles = { vision: GRAPH_FILES.vision, crossKv: GRAPH_FILES.crossKv, decoder: GRAPH_FILES.decoder };
    await build(GRAPH_FILES.vision, 'BLIP vision encoder', (g) => buildVisionGraph(g, loader, config.vision));
    // The decoder cross-attends to the image (captioning) or to the question states (VQA), whose width differs.
    const crossWidth = config.task === 'vqa' ? config.text.hiddenSize : config.text.encoderHiddenSize;
    await build(GRAPH_FILES.crossKv, 'BLIP text decoder cross-attention keys/values', (g) =>
      buildCrossKvGraph(g, loader, config.text, 'text_decoder.bert', crossWidth, crossKv),
    );
    await build(GRAPH_FILES.decoder, 'BLIP text decoder step with KV cache', (g) => buildDecoderStepGraph(g, loader, config.text, 'text_decoder', crossKv));
    if (config.task === 'vqa') {
      graphs.questionEncoder = GRAPH_FILES.questionEncoder;
      await build(GRAPH_FILES.questionEncoder, 'BLIP VQA question encoder', (g) =>
        buildQuestionEncoderGraph(g, loader, config.text, config.vision.hiddenSize),
      );
    }

    const tokenizerText = JSON.stringify(tokenizer.json);
    await writeFile(join(outDir, TOKENIZER_FILE), tokenizerText);
    files[TOKENIZER_FILE] = { bytes: Buffer.byteLength(tokenizerText), sha256: sha256(Buffer.from(tokenizerText)) };

    const optimized = options.optimize === false ? undefined : await writeOptimizedGraphs(outDir, Object.values(graphs), verificationDims(graphs));

    const manifest: VariantManifest = {
      format: MANIFEST_FORMAT,
      name: options.name ?? basename(outDir),
      family: 'blip',
      task: config.task,
      architecture: config.architecture,
      precision: options.precision ?? 'fp32',
      ...(crossKv === 'fp32' ? {} : { crossKvPrecision: crossKv }),
      source: { checkpoint, weightsFile: basename(weights.file), weightsSha256, randomSeed },
      graphs,
      files,
      dims: {
        imageTokens: imageTokenCount(config.vision),
        visionHidden: config.vision.hiddenSize,
        textHidden: config.text.hiddenSize,
        textLayers: config.text.numHiddenLayers,
        textHeads: config.text.numAttentionHeads,
        vocabSize: config.text.vocabSize,
        maxPositions: config.text.maxPositionEmbeddings,
      },
      parameters: weights.list().filter((w) => !w.name.endsWith('position_ids')).reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0),
      preprocess,
      tokenizer: {
        file: TOKENIZER_FILE,
        ids: { bos: config.text.bosTokenId, sep: config.text.sepTokenId, pad: config.text.padTokenId },
        maxLength: Math.min(tokenizer.maxLength, config.text.maxPositionEmbeddings),
      },
      generation: config.generation,
      converter: { version: CONVERTER_VERSION, createdAt: new Date().toISOString() },
      ...(optimized ? { optimized } : {}),
    };
    await writeFile(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await weights.close();
  }
}

interface OpenedSource {
  config: BlipConfig;
  weights: WeightSource;
  preprocess: PreprocessorConfig;
  tokenizer: { json: unknown; maxLength: number };
  checkpoint: string;
  weightsSha256: string | null;
  randomSeed: number | null;
}

async function openSource(source: ConvertSource): Promise<OpenedSource> {
  if (source.kind === 'checkpoint') {
    const dir = resolve(source.dir);
    const config = await readBlipConfig(dir);
    const preprocess = await readPreprocessorConfig(dir);
    const tokenizer = await readTokenizerJson(dir);
    const weights = await openWeights(dir);
    return { config, weights, preprocess, tokenizer, checkpoint: dir, weightsSha256: await sha256File(weights.file), randomSeed: null };
  }
  const configFile = resolve(source.configFile);
  const config = parseBlipConfig(JSON.parse(await readFile(configFile, 'utf8')), configFile);
  const preprocess = parsePreprocessorConfig({ size: { height: config.vision.imageSize, width: config.vision.imageSize } }, configFile);
  let tokenizer: { json: unknown; maxLength: number };
  if (source.tokenizerDir) {
    tokenizer = await readTokenizerJson(resolve(source.tokenizerDir));
  } else {
    const scratch = await mkdtemp(join(tmpdir(), 'blip-vocab-'));
    try {
      await writeSyntheticVocabulary(scratch, config.text);
      tokenizer = await readTokenizerJson(scratch);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const weights = createRandomWeights(config, source.seed);
  return { config, weights, preprocess, tokenizer, checkpoint: configFile, weightsSha256: null, randomSeed: source.seed };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function sha256File(file: string): Promise<string> {
  await stat(file);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
