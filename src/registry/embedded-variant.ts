import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SAFETENSORS_FILE, TORCH_FILE } from '../checkpoint/open-weights.ts';
import { CONVERTER_VERSION, convertCheckpoint } from '../models/blip/convert/convert-checkpoint.ts';
import { ErrorCode, ServiceError, UnreachableCaseError } from '../errors.ts';
import { convertedFiles, MANIFEST_FILE, type VariantManifest } from '../variant/manifest.ts';
import { withLock } from './convert-lock.ts';
import { exists, inspectInstallation, type Installation } from './installation.ts';
import type { VariantConfig } from './variant-config.ts';

const LOCK_FILE = '.convert.lock';
const SCRATCH_PREFIX = '.converting-';

export interface EmbeddedVariant {
  config: VariantConfig;
  /** The variant.json file. */
  file: string;
  dir: string;
  checkpointDir: string;
}

export type PrepareEvent =
  | { type: 'convert-skipped'; variant: string; reason: string }
  | { type: 'convert-waiting'; variant: string; lockFile: string }
  | { type: 'convert-started'; variant: string; reason: string }
  | { type: 'convert-finished'; variant: string; durationMs: number };

/**
 * Makes an embedded variant's folder match its checkpoint: converts when manifest.json is missing, broken, written by
 * another converter version, or made from other weights; does nothing otherwise.
 *
 * Not corrupting when two processes start at once: conversions take turns under a lock file, each writes into a
 * private scratch folder inside the variant folder (same file system, so renames are atomic), and the files move into
 * place with manifest.json removed first and put back last. A process killed half-way leaves no manifest, so the next
 * start converts again; a running server that still has old files open keeps reading their old inodes.
 */
export async function prepareEmbeddedVariant(variant: EmbeddedVariant, onEvent: (event: PrepareEvent) => void): Promise<'converted' | 'skipped'> {
  const name = variant.config.name;
  const before = await staleness(variant);
  if (before === null) {
    onEvent({ type: 'convert-skipped', variant: name, reason: 'up to date' });
    return 'skipped';
  }
  const lockFile = join(variant.dir, LOCK_FILE);
  return withLock(
    lockFile,
    () => onEvent({ type: 'convert-waiting', variant: name, lockFile }),
    async () => {
      // Another process may have converted while we waited for the lock.
      const reason = await staleness(variant);
      if (reason === null) {
        onEvent({ type: 'convert-skipped', variant: name, reason: 'converted by another process' });
        return 'skipped';
      }
      onEvent({ type: 'convert-started', variant: name, reason });
      const started = performance.now();
      await convertInPlace(variant);
      onEvent({ type: 'convert-finished', variant: name, durationMs: performance.now() - started });
      return 'converted';
    },
  );
}

/** Why the folder must be converted, or null when it is up to date. */
export async function staleness(variant: EmbeddedVariant): Promise<string | null> {
  let installation: Installation;
  try {
    installation = await inspectInstallation(variant.dir);
  } catch (error) {
    return `${MANIFEST_FILE} is invalid (${(error as Error).message})`;
  }
  switch (installation.status) {
    case 'absent':
      return `no ${MANIFEST_FILE}`;
    case 'incomplete':
      return installation.problem;
    case 'installed':
      return manifestStaleness(installation.manifest, variant);
    default:
      throw new UnreachableCaseError(installation);
  }
}

async function manifestStaleness(manifest: VariantManifest, variant: EmbeddedVariant): Promise<string | null> {
  if (manifest.converter.version !== CONVERTER_VERSION) {
    return `converted by converter version ${manifest.converter.version}, current is ${CONVERTER_VERSION}`;
  }
  if (manifest.name !== variant.config.name || manifest.task !== variant.config.task || manifest.precision !== variant.config.precision) {
    return `${MANIFEST_FILE} is for ${manifest.name} (${manifest.task}, ${manifest.precision})`;
  }
  const weights = await findWeightsFile(variant.checkpointDir);
  // No weights at all: converting reports the problem with the checkpoint's own error message.
  if (weights === null) return `no weights file in ${variant.checkpointDir}`;
  if (basename(weights) !== manifest.source.weightsFile) return `the checkpoint's weights are now in ${basename(weights)}`;
  if ((await sha256File(weights)) !== manifest.source.weightsSha256) return `${weights} changed`;
  return null;
}

// Private: the file the converter reads, in the order openWeights tries them (its hash is what the manifest records).
async function findWeightsFile(checkpointDir: string): Promise<string | null> {
  for (const file of [SAFETENSORS_FILE, `${SAFETENSORS_FILE}.index.json`, TORCH_FILE, `${TORCH_FILE}.index.json`]) {
    if (await exists(join(checkpointDir, file))) return join(checkpointDir, file);
  }
  return null;
}

// Private: called with the lock held, so every scratch folder left in the variant folder is an abandoned one.
async function convertInPlace(variant: EmbeddedVariant): Promise<void> {
  for (const entry of await readdir(variant.dir)) {
    if (entry.startsWith(SCRATCH_PREFIX)) await rm(join(variant.dir, entry), { recursive: true, force: true });
  }
  const scratch = join(variant.dir, `${SCRATCH_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const manifest = await convertCheckpoint({ source: { kind: 'checkpoint', dir: variant.checkpointDir }, outDir: scratch, name: variant.config.name, precision: variant.config.precision });
    if (manifest.task !== variant.config.task) {
      throw new ServiceError(
        ErrorCode.INVALID_VARIANT,
        `${variant.file}: expected "${manifest.task}" (the task of ${join(variant.checkpointDir, 'config.json')}) for task but received "${variant.config.task}"`,
        { details: { file: variant.file, field: 'task' } },
      );
    }
    await unlink(join(variant.dir, MANIFEST_FILE)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    for (const file of convertedFiles(manifest)) await rename(join(scratch, file), join(variant.dir, file));
    await rename(join(scratch, MANIFEST_FILE), join(variant.dir, MANIFEST_FILE));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
