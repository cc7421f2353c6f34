import type { ModelFamily, RuntimeOptions, WorkingMemorySettings } from '../models/family.ts';
import type { RegistryEntry } from './repository.ts';

/** The families whose working-memory bounds the budget counts, by manifest `family` (main.ts passes FAMILIES). */
export type MemoryFamilies = Readonly<Record<string, Pick<ModelFamily, 'workingMemory'>>>;

/** What a loaded variant is counted as against the memory budget, in bytes (`Model.memory`). */
export interface VariantMemory {
  /**
   * Its weights: the bytes of the files its manifest lists (ONNX graphs with their external weights, the tokenizer).
   * Measured with blip-base: a loaded worker's RSS grows by about this much, and ONNX Runtime holds no second copy
   * (neither prepacked nor in its arena; see /work/notes/s10/memory.md).
   */
  weightBytes: number;
  /** Its family's bound on everything else, from its manifest and its settings (ModelFamily `workingMemory`). */
  workingBytes: number;
  totalBytes: number;
  /** The working bound's terms, by the family's names. */
  workingParts: Readonly<Record<string, number>>;
}

/** The runtime settings the variant's worker gets: the registry's, with the variant's own batch bound. */
export function runtimeSettings(entry: RegistryEntry, pipeline: RuntimeOptions): RuntimeOptions {
  // Its variant.json `runtime` section wins over the server-wide settings.
  return { ...pipeline, maxRows: entry.config.batching.maxRows, ...entry.config.runtime };
}

/**
 * The variant's memory when installed, else null. A family missing from `families` (or none given: tests with stand-in
 * backends) counts no working memory; an unknown family cannot load anyway.
 */
export function variantMemory(entry: RegistryEntry, pipeline: RuntimeOptions, families: MemoryFamilies | undefined): VariantMemory | null {
  const installation = entry.installation;
  if (installation.status !== 'installed') return null;
  const family = families?.[installation.manifest.family];
  const settings: WorkingMemorySettings = { ...runtimeSettings(entry, pipeline), maxGroupItems: entry.config.batching.maxBatchSize };
  const working = family ? family.workingMemory(installation.manifest, settings) : { totalBytes: 0, parts: {} };
  return { weightBytes: installation.bytes, workingBytes: working.totalBytes, totalBytes: installation.bytes + working.totalBytes, workingParts: working.parts };
}
