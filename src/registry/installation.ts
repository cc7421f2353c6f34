import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, readManifest, type VariantManifest } from '../variant/manifest.ts';

/** What a variant folder holds besides variant.json. */
export type Installation =
  | { status: 'absent' }
  /** manifest.json is valid but a file it lists is missing or has another size (an interrupted copy or conversion). */
  | { status: 'incomplete'; manifest: VariantManifest; problem: string }
  | { status: 'installed'; manifest: VariantManifest; bytes: number };

/**
 * Reads and validates manifest.json (throws INVALID_VARIANT naming the file and field) and checks that every file it
 * lists is there with the listed size. Sizes, not hashes: hashing gigabytes at every start-up would be slow, and the
 * worker checks the same sizes when it loads.
 */
export async function inspectInstallation(dir: string): Promise<Installation> {
  if (!(await exists(join(dir, MANIFEST_FILE)))) return { status: 'absent' };
  const manifest = await readManifest(dir);
  let bytes = 0;
  for (const [file, expected] of Object.entries(manifest.files)) {
    const size = await fileSize(join(dir, file));
    if (size === undefined) return { status: 'incomplete', manifest, problem: `${join(dir, file)} is missing` };
    if (size !== expected.bytes) {
      return { status: 'incomplete', manifest, problem: `${join(dir, file)} has ${size} bytes but ${MANIFEST_FILE} says ${expected.bytes}` };
    }
    bytes += size;
  }
  return { status: 'installed', manifest, bytes };
}

export async function exists(path: string): Promise<boolean> {
  return (await fileSize(path)) !== undefined;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
