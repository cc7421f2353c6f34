import { lstat, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlipTask } from '../models/blip/checkpoint/blip-config.ts';
import { withLock } from '../registry/convert-lock.ts';
import { exists, inspectInstallation } from '../registry/installation.ts';
import { VARIANT_FILE } from '../registry/variant-config.ts';
import { MANIFEST_FILE } from '../variant/manifest.ts';
import { PULLED_MARKER } from './install-variant.ts';
import { findVariant, readRegistryVariants } from './registry-lookup.ts';

export interface VariantRow {
  name: string;
  task: BlipTask;
  status: 'installed' | 'incomplete' | 'absent' | 'invalid';
  /** `fp32` unless the manifest says otherwise; null when nothing is converted. */
  precision: string | null;
  /** The commit a pulled variant was converted from. */
  revision: string | null;
  /** Everything in the folder but variant.json and README files: what `remove` frees. */
  bytes: number | null;
  source: string;
}

/** `blip-gateway list`: every variant of the registry folder, with what is on disk. */
export async function listVariants(registryDir: string): Promise<VariantRow[]> {
  const rows: VariantRow[] = [];
  for (const { config, dir } of await readRegistryVariants(registryDir)) {
    const source = config.source.kind === 'huggingFace' ? config.source.id : config.source.path;
    const bytes = await convertedBytes(dir);
    let row: VariantRow = { name: config.name, task: config.task, status: 'invalid', precision: null, revision: null, bytes: bytes > 0 ? bytes : null, source };
    try {
      const installation = await inspectInstallation(dir);
      row = { ...row, status: installation.status };
      if (installation.status !== 'absent') {
        const manifest = installation.manifest as typeof installation.manifest & { precision?: string };
        row = { ...row, precision: manifest.precision ?? 'fp32', revision: manifest.source.revision ?? null };
      }
    } catch {
      // An unreadable manifest: listed as invalid, and `remove` clears it.
    }
    rows.push(row);
  }
  return rows;
}

export interface Removed {
  name: string;
  dir: string;
  /** True when the whole folder went (a variant made by `pull --name`); false when variant.json stays. */
  folder: boolean;
  bytes: number;
}

/**
 * `blip-gateway remove`: deletes a variant's converted files. A shipped variant (its variant.json is part of the
 * repository) keeps its variant.json and is listed as not installed; a variant that `pull --name` created goes
 * entirely. Takes the variant's pull lock, so it never removes files a pull is writing.
 */
export async function removeVariant(registryDir: string, nameOrAlias: string): Promise<Removed> {
  const { config, dir } = findVariant(await readRegistryVariants(registryDir), nameOrAlias);
  const name = config.name;
  return withLock(
    join(registryDir, `.${name}.pull.lock`),
    () => {},
    async () => {
      const bytes = await convertedBytes(dir);
      if (await exists(join(dir, PULLED_MARKER))) {
        await rm(dir, { recursive: true, force: true });
        return { name, dir, folder: true, bytes };
      }
      // The manifest first: a folder without it is "not installed", whatever else a crash leaves behind.
      await unlink(join(dir, MANIFEST_FILE)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      for (const entry of await readdir(dir)) {
        if (entry === VARIANT_FILE || isKept(entry)) continue;
        await rm(join(dir, entry), { recursive: true, force: true });
      }
      return { name, dir, folder: false, bytes };
    },
  );
}

/** Hand-written files that live next to variant.json, and another process's conversion lock. */
function isKept(entry: string): boolean {
  return /\.md$/i.test(entry) || entry === '.convert.lock';
}

async function convertedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir)) {
    if (entry === VARIANT_FILE || isKept(entry)) continue;
    const path = join(dir, entry);
    const info = await lstat(path);
    total += info.isDirectory() ? await convertedBytes(path) : info.size;
  }
  return total;
}
