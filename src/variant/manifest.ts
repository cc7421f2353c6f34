import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlipGenerationDefaults } from '../models/blip/checkpoint/blip-config.ts';
import type { PreprocessorConfig } from '../models/blip/checkpoint/preprocessor-config.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { OptimizedGraphs } from '../runtime/optimized-model.ts';

/**
 * manifest.json: what `blip-gateway convert` writes into a variant folder, and everything the runtime needs to load
 * it. A variant folder is the unit the registry serves.
 */
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

import { PRECISIONS, type Precision, type Task } from './task.ts';

export { PRECISIONS, type Precision, type Task } from './task.ts';

export const CROSS_KV_PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type CrossKvPrecision = (typeof CROSS_KV_PRECISIONS)[number];

export interface GraphFiles {
  vision: string;
  crossKv: string;
  decoder: string;
  /** VQA only. */
  questionEncoder?: string;
}

export interface ModelDims {
  imageTokens: number;
  visionHidden: number;
  textHidden: number;
  textLayers: number;
  textHeads: number;
  vocabSize: number;
  maxPositions: number;
}

export interface TokenIds {
  bos: number;
  sep: number;
  pad: number;
}

export interface VariantManifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  /** The model family whose runtime serves the variant (`src/models/<family>/`); manifests written before it existed are BLIP. */
  family: string;
  task: Task;
  architecture: string;
  /** Absent in manifests written before precisions existed, which are all fp32; readManifest fills it in. */
  precision: Precision;
  /**
   * The element type of the cross-attention keys/values the cross K/V graph emits and the decoder reads (int8 codes
   * with per-token scales in int8 variants). Absent means fp32.
   */
  crossKvPrecision?: CrossKvPrecision;
  source: {
    /** What was converted: a checkpoint folder, or `random(seed=N)` for benchmark models. */
    checkpoint: string;
    weightsFile: string;
    weightsSha256: string | null;
    randomSeed: number | null;
    /** Pulled from the Hugging Face Hub (`blip-gateway pull`): the repository and the 40-character commit. */
    huggingFace?: string;
    revision?: string;
  };
  graphs: GraphFiles;
  /** Every file of the variant (paths relative to the folder) with its size and sha256. */
  files: Record<string, { bytes: number; sha256: string }>;
  dims: ModelDims;
  parameters: number;
  preprocess: PreprocessorConfig;
  tokenizer: { file: string; ids: TokenIds; maxLength: number };
  generation: BlipGenerationDefaults;
  converter: { version: string; createdAt: string };
  /** ONNX Runtime's saved optimized form of the graphs (not in `files`: it is rewritten per machine, see optimized-model.ts). */
  optimized?: OptimizedGraphs;
}

/** Every file convert wrote besides the manifest: `files` and the optimized graphs (what to move into place). */
export function convertedFiles(manifest: VariantManifest): string[] {
  const optimized = Object.values(manifest.optimized?.graphs ?? {}).flatMap((g) => (g.dataBytes > 0 ? [g.file, g.data] : [g.file]));
  return [...Object.keys(manifest.files), ...optimized];
}

export async function readManifest(dir: string): Promise<VariantManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: cannot read the manifest (${(cause as Error).message})`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return validateManifest(json, file);
}

/** Fields added after format 1 was fixed get their historical value when absent. */
function withDefaults(m: Record<string, unknown>): void {
  m.family ??= 'blip';
  m.precision ??= 'fp32';
}

/** Checks the fields the runtime relies on; names the file and the field on failure. */
export function validateManifest(json: unknown, file: string): VariantManifest {
  const fail = (field: string, expected: string, received: unknown): never => {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: expected ${expected} for ${field} but received ${JSON.stringify(received)}`, {
      details: { file, field },
    });
  };
  const obj = (value: unknown, field: string): Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : fail(field, 'an object', value);
  const str = (value: unknown, field: string): string => (typeof value === 'string' && value.length > 0 ? value : fail(field, 'a non-empty string', value));
  const int = (value: unknown, field: string, min = 0): number =>
    typeof value === 'number' && Number.isInteger(value) && value >= min ? value : fail(field, `an integer ≥ ${min}`, value);

  const m = obj(json, 'the manifest');
  if (m.format !== MANIFEST_FORMAT) fail('format', String(MANIFEST_FORMAT), m.format);
  withDefaults(m);
  str(m.name, 'name');
  str(m.family, 'family');
  if (!PRECISIONS.includes(m.precision as Precision)) fail('precision', PRECISIONS.map((p) => `"${p}"`).join(' or '), m.precision);
  if (m.crossKvPrecision !== undefined && !CROSS_KV_PRECISIONS.includes(m.crossKvPrecision as CrossKvPrecision)) {
    fail('crossKvPrecision', CROSS_KV_PRECISIONS.map((p) => `"${p}"`).join(', '), m.crossKvPrecision);
  }
  if (m.task !== 'caption' && m.task !== 'vqa') fail('task', '"caption" or "vqa"', m.task);
  const graphs = obj(m.graphs, 'graphs');
  const files = obj(m.files, 'files');
  for (const key of ['vision', 'crossKv', 'decoder'] as const) {
    const name = str(graphs[key], `graphs.${key}`);
    if (!(name in files)) fail(`files["${name}"]`, 'an entry for every graph', undefined);
  }
  if (m.task === 'vqa') str(graphs.questionEncoder, 'graphs.questionEncoder');
  for (const [name, entry] of Object.entries(files)) {
    const e = obj(entry, `files["${name}"]`);
    int(e.bytes, `files["${name}"].bytes`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) fail(`files["${name}"].sha256`, 'a sha256 hex digest', e.sha256);
  }
  const d = obj(m.dims, 'dims');
  for (const key of ['imageTokens', 'visionHidden', 'textHidden', 'textLayers', 'textHeads', 'vocabSize', 'maxPositions']) int(d[key], `dims.${key}`, 1);
  const pre = obj(m.preprocess, 'preprocess');
  int(pre.width, 'preprocess.width', 1);
  int(pre.height, 'preprocess.height', 1);
  const tok = obj(m.tokenizer, 'tokenizer');
  str(tok.file, 'tokenizer.file');
  int(tok.maxLength, 'tokenizer.maxLength', 1);
  const ids = obj(tok.ids, 'tokenizer.ids');
  for (const key of ['bos', 'sep', 'pad']) int(ids[key], `tokenizer.ids.${key}`);
  const gen = obj(m.generation, 'generation');
  int(gen.maxLength, 'generation.maxLength', 1);
  int(gen.minLength, 'generation.minLength');
  int(gen.numBeams, 'generation.numBeams', 1);
  if (m.optimized !== undefined) {
    const o = obj(m.optimized, 'optimized');
    for (const key of ['onnxruntime', 'cpu', 'level']) str(o[key], `optimized.${key}`);
    for (const [graph, entry] of Object.entries(obj(o.graphs, 'optimized.graphs'))) {
      const e = obj(entry, `optimized.graphs["${graph}"]`);
      for (const key of ['file', 'data']) str(e[key], `optimized.graphs["${graph}"].${key}`);
      for (const key of ['bytes', 'dataBytes']) int(e[key], `optimized.graphs["${graph}"].${key}`);
      if (typeof e.prepacked !== 'boolean') fail(`optimized.graphs["${graph}"].prepacked`, 'a boolean', e.prepacked);
    }
  }
  return json as VariantManifest;
}
