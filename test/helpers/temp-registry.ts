import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint } from '../../src/models/blip/convert/convert-checkpoint.ts';
import { CAPTION_CHECKPOINT, VQA_CHECKPOINT } from './fixtures.ts';

/**
 * A throw-away repository for registry tests: `<repoRoot>/registry/<variant>/variant.json` written by the test, and
 * copies of the tiny fixture checkpoints at `<repoRoot>/checkpoints/{caption,vqa}` that tests may change.
 */
export interface TempRegistry {
  repoRoot: string;
  root: string;
  captionCheckpoint: string;
  vqaCheckpoint: string;
  /** Writes `registry/<folder>/variant.json` (any JSON, so that tests can write broken ones); returns its path. */
  writeVariant(folder: string, json: unknown): Promise<string>;
  /** Converts a fixture checkpoint into `registry/<name>/` as `blip-gateway convert` would. */
  install(name: string, task: 'caption' | 'vqa'): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createTempRegistry(): Promise<TempRegistry> {
  const repoRoot = await mkdtemp(join(tmpdir(), 'blip-registry-'));
  const root = join(repoRoot, 'registry');
  await mkdir(root);
  const captionCheckpoint = join(repoRoot, 'checkpoints', 'caption');
  const vqaCheckpoint = join(repoRoot, 'checkpoints', 'vqa');
  // Only what the converter reads, and only safetensors, so that changing model.safetensors changes the weights.
  const skip = (path: string) => path.endsWith('pytorch_model.bin') || path.includes('/refs') || path.endsWith('references.json');
  await cp(CAPTION_CHECKPOINT, captionCheckpoint, { recursive: true, filter: (path) => !skip(path) });
  await cp(VQA_CHECKPOINT, vqaCheckpoint, { recursive: true, filter: (path) => !skip(path) });
  return {
    repoRoot,
    root,
    captionCheckpoint,
    vqaCheckpoint,
    async writeVariant(folder, json) {
      await mkdir(join(root, folder), { recursive: true });
      const file = join(root, folder, 'variant.json');
      await writeFile(file, typeof json === 'string' ? json : JSON.stringify(json, null, 2));
      return file;
    },
    async install(name, task) {
      const dir = join(root, name);
      await convertCheckpoint({ source: { kind: 'checkpoint', dir: task === 'caption' ? captionCheckpoint : vqaCheckpoint }, outDir: dir, name });
      return dir;
    },
    cleanup: () => rm(repoRoot, { recursive: true, force: true }),
  };
}

/** A valid variant.json for an official checkpoint; `extra` overrides or adds fields. */
export function officialVariant(name: string, task: 'caption' | 'vqa', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return variantJson(name, task, { huggingFace: `Salesforce/${name}` }, extra);
}

/** A valid variant.json for an embedded fixture checkpoint (converted by prepareEmbedded). */
export function embeddedVariant(name: string, task: 'caption' | 'vqa', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return variantJson(name, task, { checkpoint: `checkpoints/${task}`, embedded: true }, extra);
}

function variantJson(name: string, task: 'caption' | 'vqa', source: unknown, extra: Record<string, unknown>): Record<string, unknown> {
  return { name, aliases: [], task, description: `${name} for tests`, default: false, source, ...extra };
}
