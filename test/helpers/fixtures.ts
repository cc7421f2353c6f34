import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCheckpoint } from '../../src/models/blip/convert/convert-checkpoint.ts';

/** The tiny BLIP checkpoints and transformers' reference outputs (see test/fixtures/blip-tiny/README.md). */
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const BLIP_TINY = join(FIXTURES, 'blip-tiny');
export const CAPTION_CHECKPOINT = join(BLIP_TINY, 'caption');
export const VQA_CHECKPOINT = join(BLIP_TINY, 'vqa');
export const IMAGES = join(BLIP_TINY, 'images');
export const IMAGE_NAMES = ['gradient_64x48.png', 'solid_20x20.jpg', 'rgba_50x90.png', 'gray_33x33.png', 'shapes_400x300.jpg'] as const;

export function readFloat32(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function readInt64(file: string): number[] {
  const bytes = readFileSync(file);
  return Array.from(new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), Number);
}

export function readImage(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(IMAGES, name)));
}

export function readJson<T = any>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Removes trailing [PAD]s that transformers adds to finished rows of a batch. */
export function withoutPadding(ids: readonly number[], pad = 0): number[] {
  let end = ids.length;
  while (end > 0 && ids[end - 1] === pad) end--;
  return ids.slice(0, end);
}

export interface TempVariant {
  dir: string;
  cleanup: () => Promise<void>;
}

/**
 * Converts a fixture checkpoint into a fresh variant folder. `weights` picks the file the converter reads: the
 * checkpoint is copied without the other weight file, so `pytorch_model.bin` is really what gets read.
 */
export async function convertFixture(checkpoint: string, weights: 'safetensors' | 'pytorch' = 'safetensors'): Promise<TempVariant> {
  const scratch = await mkdtemp(join(tmpdir(), 'blip-test-'));
  const source = join(scratch, 'checkpoint');
  const skipped = weights === 'safetensors' ? 'pytorch_model.bin' : 'model.safetensors';
  await cp(checkpoint, source, { recursive: true, filter: (path) => !path.endsWith(skipped) && !path.includes('/refs') && !path.endsWith('references.json') });
  const dir = join(scratch, 'variant');
  await convertCheckpoint({ source: { kind: 'checkpoint', dir: source }, outDir: dir });
  return { dir, cleanup: () => rm(scratch, { recursive: true, force: true }) };
}
