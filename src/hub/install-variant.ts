import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlipTask } from '../models/blip/checkpoint/blip-config.ts';
import type { Precision } from '../variant/manifest.ts';
import { convertCheckpoint } from '../models/blip/convert/convert-checkpoint.ts';
import { ServiceError } from '../errors.ts';
import { VARIANT_FILE } from '../registry/variant-config.ts';
import { convertedFiles, MANIFEST_FILE, type VariantManifest } from '../variant/manifest.ts';
import { writeError } from './download-blob.ts';
import { HubError, HubErrorKind } from './hub-error.ts';
import type { PullEvent } from './pull-events.ts';

/** Marks a folder `pull --name` created, so that `remove` deletes all of it (a shipped variant keeps variant.json). */
export const PULLED_MARKER = '.pulled';
export const SCRATCH_PREFIX = '.pull-';

export interface InstallRequest {
  registryDir: string;
  name: string;
  repo: string;
  commit: string;
  /** The snapshot folder in the Hugging Face cache. */
  checkpointDir: string;
  /** The task the registry expects (variant.json), or null for a new variant (its task comes from the checkpoint). */
  expectedTask: BlipTask | null;
  /** The precision to convert to. */
  precision: Precision;
  /** Write variant.json (a new variant made by `pull --name`). */
  newVariant: { description: string } | null;
  onEvent: (event: PullEvent) => void;
}

/**
 * Converts the snapshot into `<registryDir>/<name>`. The conversion goes to a dot-folder of the registry (which the
 * server ignores, on the same file system so renames are atomic); then either the whole folder is renamed into place
 * (a new variant, replacing a partial folder a failed pull left), or the files move into the existing variant folder
 * with manifest.json removed first and written last, so a crash never leaves a manifest describing missing files.
 */
export async function installVariant(request: InstallRequest): Promise<VariantManifest> {
  const { registryDir, name } = request;
  const target = join(registryDir, name);
  await removeAbandonedScratch(registryDir, name);
  const scratch = join(registryDir, `${SCRATCH_PREFIX}${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    let manifest: VariantManifest;
    try {
      manifest = await convertCheckpoint({
        source: { kind: 'checkpoint', dir: request.checkpointDir },
        outDir: scratch,
        name,
        precision: request.precision,
        onProgress: ({ graph, done, total }) => request.onEvent({ type: 'converting', graph, done, total }),
      });
    } catch (error) {
      throw convertError(error, `${request.repo}@${request.commit}`, scratch);
    }
    if (request.expectedTask !== null && manifest.task !== request.expectedTask) {
      throw new HubError(
        HubErrorKind.NOT_BLIP,
        `${request.repo}@${request.commit} is a ${manifest.task} checkpoint but variant "${name}" serves ${request.expectedTask}`,
      );
    }
    manifest = { ...manifest, source: { ...manifest.source, huggingFace: request.repo, revision: request.commit } };
    await writeFile(join(scratch, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

    if (request.newVariant) {
      const variant = { name, aliases: [], task: manifest.task, description: request.newVariant.description, source: { huggingFace: request.repo }, ...(request.precision === 'fp32' ? {} : { precision: request.precision }) };
      await writeFile(join(scratch, VARIANT_FILE), `${JSON.stringify(variant, null, 2)}\n`);
      await writeFile(join(scratch, PULLED_MARKER), `${request.repo}\n`);
      await rm(target, { recursive: true, force: true });
      await rename(scratch, target);
      return manifest;
    }
    await mkdir(target, { recursive: true });
    await unlink(join(target, MANIFEST_FILE)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    for (const file of convertedFiles(manifest)) await rename(join(scratch, file), join(target, file));
    await rename(join(scratch, MANIFEST_FILE), join(target, MANIFEST_FILE));
    return manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Called with the variant's pull lock held: any scratch folder of this name belongs to a pull that died. */
async function removeAbandonedScratch(registryDir: string, name: string): Promise<void> {
  for (const entry of await readdir(registryDir)) {
    if (entry.startsWith(`${SCRATCH_PREFIX}${name}-`)) await rm(join(registryDir, entry), { recursive: true, force: true });
  }
}

function convertError(error: unknown, what: string, scratch: string): Error {
  const written = writeError(error, scratch, what);
  if (written instanceof HubError) return written;
  if (error instanceof ServiceError) return new HubError(HubErrorKind.CONVERT_FAILED, `${what}: ${error.message}`, { cause: error });
  return error as Error;
}
