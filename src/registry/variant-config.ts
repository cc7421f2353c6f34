import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Task } from '../variant/manifest.ts';
import { describeValue } from '../checkpoint/describe-value.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import { PRECISIONS, type Precision } from '../variant/manifest.ts';
import type { BatchingSettings } from './types.ts';

/**
 * variant.json: the hand-written, committed half of a variant folder (Triton's config.pbtxt). It names the variant,
 * says which task it serves and where its weights come from. The converted files next to it are derived data.
 */
export const VARIANT_FILE = 'variant.json';

/** Triton-like defaults: a batch small enough for a CPU, a queue delay short enough not to be felt. */
export const DEFAULT_BATCHING: Readonly<BatchingSettings> = Object.freeze({ maxBatchSize: 8, maxQueueDelayMs: 5, maxQueueSize: 64, maxRows: 16 });

export type VariantSource =
  /** An official checkpoint the user downloads and converts (`installCommand` says how). */
  | { kind: 'huggingFace'; id: string }
  /**
   * A checkpoint folder in the repository, relative to the repository root. `embedded` ones are converted by the
   * server at start-up; others are converted by hand like official ones.
   */
  | { kind: 'checkpoint'; path: string; embedded: boolean };

export interface VariantConfig {
  name: string;
  aliases: string[];
  task: Task;
  description: string;
  isDefault: boolean;
  source: VariantSource;
  batching: BatchingSettings;
  /** The precision the variant is converted to (`convert --precision`); its manifest must say the same. */
  precision: Precision;
  /** ONNX Runtime settings of this variant's sessions, over the server-wide INTRA_OP_THREADS / INTRA_OP_SPINNING. */
  runtime: VariantRuntimeSettings;
}

export interface VariantRuntimeSettings {
  intraOpThreads?: number;
  allowSpinning?: boolean;
}

export async function readVariantConfig(file: string, folderName: string): Promise<VariantConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: cannot read the variant file (${(cause as Error).message})`, { cause, details: { file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: not valid JSON (${(cause as Error).message})`, { cause, details: { file } });
  }
  return parseVariantConfig(json, file, folderName);
}

/** The error every variant.json problem becomes: it names the file and the field, sharp-style. */
export function variantFieldError(file: string, field: string, expected: string, received: unknown, note = ''): ServiceError {
  return new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: expected ${expected} for ${field} but received ${describeValue(received)}${note}`, {
    details: { file, field },
  });
}

/**
 * Strict on purpose: an unknown key is most likely a typo of an optional one (`maxBatchsize`), which would otherwise
 * be silently replaced by its default.
 */
export function parseVariantConfig(json: unknown, file: string, folderName: string): VariantConfig {
  const fail = (field: string, expected: string, received: unknown): never => {
    throw variantFieldError(file, field, expected, received);
  };
  const object = (value: unknown, field: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'an object', value);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.includes(key)) fail(field === 'the variant' ? key : `${field}.${key}`, `no such key (known keys: ${keys.join(', ')})`, record[key]);
    }
    return record;
  };
  const text = (value: unknown, field: string): string =>
    typeof value === 'string' && value.trim() !== '' && value.trim() === value ? value : fail(field, 'a non-empty string without surrounding spaces', value);

  const v = object(json, 'the variant', ['name', 'aliases', 'task', 'description', 'default', 'source', 'batching', 'precision', 'runtime']);

  const name = text(v.name, 'name');
  if (name !== folderName) fail('name', `"${folderName}" (the folder name)`, name);

  const aliases: string[] = [];
  if (v.aliases !== undefined) {
    if (!Array.isArray(v.aliases)) fail('aliases', 'an array of strings', v.aliases);
    (v.aliases as unknown[]).forEach((alias, i) => {
      const value = text(alias, `aliases[${i}]`);
      if (value === name || aliases.includes(value)) fail(`aliases[${i}]`, 'an alias different from the name and the other aliases', value);
      aliases.push(value);
    });
  }

  if (v.task !== 'caption' && v.task !== 'vqa') fail('task', '"caption" or "vqa"', v.task);
  const task = v.task as Task;
  const description = text(v.description, 'description');

  if (v.default !== undefined && typeof v.default !== 'boolean') fail('default', 'a boolean', v.default);
  const isDefault = v.default === true;

  const source = parseSource(v.source, fail, object, text);
  const batching = parseBatching(v.batching, fail, object);
  if (v.precision !== undefined && !PRECISIONS.includes(v.precision as Precision)) fail('precision', '"fp32" or "int8"', v.precision);
  const precision = (v.precision as Precision | undefined) ?? 'fp32';
  const runtime = parseRuntime(v.runtime, fail, object);
  return { name, aliases, task, description, isDefault, source, batching, precision, runtime };
}

// Private: the same bounds as the server-wide settings (config.ts).
function parseRuntime(
  value: unknown,
  fail: (field: string, expected: string, received: unknown) => never,
  object: (value: unknown, field: string, keys: readonly string[]) => Record<string, unknown>,
): VariantRuntimeSettings {
  if (value === undefined) return {};
  const r = object(value, 'runtime', ['intraOpThreads', 'allowSpinning']);
  const settings: VariantRuntimeSettings = {};
  if (r.intraOpThreads !== undefined) {
    if (typeof r.intraOpThreads !== 'number' || !Number.isInteger(r.intraOpThreads) || r.intraOpThreads < 1 || r.intraOpThreads > 256) {
      fail('runtime.intraOpThreads', 'an integer from 1 to 256', r.intraOpThreads);
    }
    settings.intraOpThreads = r.intraOpThreads as number;
  }
  if (r.allowSpinning !== undefined) {
    if (typeof r.allowSpinning !== 'boolean') fail('runtime.allowSpinning', 'a boolean', r.allowSpinning);
    settings.allowSpinning = r.allowSpinning as boolean;
  }
  return settings;
}

// Private: exactly one of huggingFace / checkpoint.
function parseSource(
  value: unknown,
  fail: (field: string, expected: string, received: unknown) => never,
  object: (value: unknown, field: string, keys: readonly string[]) => Record<string, unknown>,
  text: (value: unknown, field: string) => string,
): VariantSource {
  if (value === undefined) fail('source', '{ "huggingFace": id } or { "checkpoint": path, "embedded": true }', value);
  const s = object(value, 'source', ['huggingFace', 'checkpoint', 'embedded']);
  if ((s.huggingFace === undefined) === (s.checkpoint === undefined)) {
    fail('source', 'exactly one of "huggingFace" and "checkpoint"', value);
  }
  if (s.huggingFace !== undefined) {
    const id = text(s.huggingFace, 'source.huggingFace');
    if (!/^[\w.-]+\/[\w.-]+$/.test(id)) fail('source.huggingFace', 'a Hugging Face id such as "Salesforce/blip-image-captioning-base"', id);
    if (s.embedded !== undefined) fail('source.embedded', 'no "embedded" flag with "huggingFace" (only repository checkpoints are embedded)', s.embedded);
    return { kind: 'huggingFace', id };
  }
  const path = text(s.checkpoint, 'source.checkpoint');
  // Relative so that the registry works wherever the repository is checked out.
  if (isAbsolute(path)) fail('source.checkpoint', 'a path relative to the repository root', path);
  if (s.embedded !== undefined && typeof s.embedded !== 'boolean') fail('source.embedded', 'a boolean', s.embedded);
  return { kind: 'checkpoint', path, embedded: s.embedded === true };
}

// Private: each setting may be left out and takes its default.
function parseBatching(
  value: unknown,
  fail: (field: string, expected: string, received: unknown) => never,
  object: (value: unknown, field: string, keys: readonly string[]) => Record<string, unknown>,
): BatchingSettings {
  if (value === undefined) return { ...DEFAULT_BATCHING };
  const b = object(value, 'batching', ['maxBatchSize', 'maxQueueDelayMs', 'maxQueueSize', 'maxRows']);
  const maxBatchSize = b.maxBatchSize ?? DEFAULT_BATCHING.maxBatchSize;
  if (typeof maxBatchSize !== 'number' || !Number.isInteger(maxBatchSize) || maxBatchSize < 1 || maxBatchSize > 256) {
    fail('batching.maxBatchSize', 'an integer from 1 to 256', maxBatchSize);
  }
  const maxQueueDelayMs = b.maxQueueDelayMs ?? DEFAULT_BATCHING.maxQueueDelayMs;
  if (typeof maxQueueDelayMs !== 'number' || !Number.isFinite(maxQueueDelayMs) || maxQueueDelayMs < 0 || maxQueueDelayMs > 10_000) {
    fail('batching.maxQueueDelayMs', 'a number of milliseconds from 0 to 10000', maxQueueDelayMs);
  }
  const maxQueueSize = b.maxQueueSize ?? DEFAULT_BATCHING.maxQueueSize;
  if (typeof maxQueueSize !== 'number' || !Number.isInteger(maxQueueSize) || maxQueueSize < 1 || maxQueueSize > 100_000) {
    fail('batching.maxQueueSize', 'an integer from 1 to 100000', maxQueueSize);
  }
  const maxRows = b.maxRows ?? DEFAULT_BATCHING.maxRows;
  if (typeof maxRows !== 'number' || !Number.isInteger(maxRows) || maxRows < 1 || maxRows > 1024) {
    fail('batching.maxRows', 'an integer from 1 to 1024', maxRows);
  }
  return { maxBatchSize: maxBatchSize as number, maxQueueDelayMs: maxQueueDelayMs as number, maxQueueSize: maxQueueSize as number, maxRows: maxRows as number };
}
