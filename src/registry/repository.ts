import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, ServiceError } from '../errors.ts';
import { MANIFEST_FILE, type VariantManifest } from '../variant/manifest.ts';
import { exists, inspectInstallation, type Installation } from './installation.ts';
import { readVariantConfig, VARIANT_FILE, variantFieldError, type VariantConfig } from './variant-config.ts';

/** One folder of the registry as found on disk. */
export interface RegistryEntry {
  config: VariantConfig;
  /** The variant.json file. */
  file: string;
  dir: string;
  /** The absolute checkpoint folder of a `source.checkpoint` variant, else null. */
  checkpointDir: string | null;
  installation: Installation;
}

/**
 * Reads every variant folder under `root` and checks them together, failing on the first problem (Triton's
 * strict model-repository mode): a server that starts only when its registry is right never serves half of it.
 */
export async function scanRegistry(root: string, repoRoot: string): Promise<RegistryEntry[]> {
  let folders: string[];
  try {
    // Dot-folders are not variants (editor and tool state); plain files such as README.md are ignored too.
    folders = (await readdir(root, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch (cause) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${root}: cannot read the registry folder (${(cause as Error).message})`, { cause, details: { file: root } });
  }
  const entries: RegistryEntry[] = [];
  for (const folder of folders) entries.push(await readEntry(join(root, folder), folder, repoRoot));
  checkUniqueNames(entries);
  checkDefaults(entries);
  return entries;
}

/** Reads the folder's manifest again (after a conversion), with the same rules as the scan. */
export async function refreshInstallation(entry: RegistryEntry): Promise<Installation> {
  return readInstallation(entry.dir, entry.file, entry.config);
}

async function readEntry(dir: string, folder: string, repoRoot: string): Promise<RegistryEntry> {
  const file = join(dir, VARIANT_FILE);
  if (!(await exists(file))) {
    throw new ServiceError(ErrorCode.INVALID_VARIANT, `${file}: missing; every folder of the registry is a variant and needs a ${VARIANT_FILE} (see registry/README.md)`, {
      details: { file },
    });
  }
  const config = await readVariantConfig(file, folder);
  let checkpointDir: string | null = null;
  if (config.source.kind === 'checkpoint') {
    checkpointDir = resolve(repoRoot, config.source.path);
    if (!(await isDirectory(checkpointDir))) {
      throw variantFieldError(file, 'source.checkpoint', `a checkpoint folder relative to the repository root (${repoRoot})`, config.source.path, ', which is not a folder');
    }
  }
  return { config, file, dir, checkpointDir, installation: await readInstallation(dir, file, config) };
}

async function readInstallation(dir: string, file: string, config: VariantConfig): Promise<Installation> {
  // An embedded variant's converted files are the server's own derived data: a broken or foreign manifest there is
  // simply out of date and gets converted again by prepareEmbedded, instead of stopping the server.
  if (config.source.kind === 'checkpoint' && config.source.embedded) {
    try {
      const installation = await inspectInstallation(dir);
      if (installation.status !== 'absent') checkAgreement(installation.manifest, dir, file, config);
      return installation;
    } catch (error) {
      if (error instanceof ServiceError && error.code === ErrorCode.INVALID_VARIANT) return { status: 'absent' };
      throw error;
    }
  }
  const installation = await inspectInstallation(dir);
  if (installation.status !== 'absent') checkAgreement(installation.manifest, dir, file, config);
  return installation;
}

/** The manifest was written for this variant: a folder copied under another name, the wrong task or precision, is refused. */
export function checkAgreement(manifest: VariantManifest, dir: string, file: string, config: VariantConfig): void {
  const manifestFile = join(dir, MANIFEST_FILE);
  for (const field of ['task', 'name', 'precision'] as const) {
    if (manifest[field] !== config[field]) {
      throw new ServiceError(
        ErrorCode.INVALID_VARIANT,
        `${manifestFile}: expected "${config[field]}" (the ${field} in ${file}) for ${field} but received "${manifest[field]}"`,
        { details: { file: manifestFile, field, variantFile: file } },
      );
    }
  }
}

// Private: names and aliases share one namespace, since a request names a variant by either.
function checkUniqueNames(entries: readonly RegistryEntry[]): void {
  const owners = new Map<string, string>();
  for (const entry of entries) owners.set(entry.config.name, entry.file);
  for (const entry of entries) {
    entry.config.aliases.forEach((alias, i) => {
      const owner = owners.get(alias);
      if (owner !== undefined) {
        throw variantFieldError(entry.file, `aliases[${i}]`, 'a name no other variant uses', alias, ` (already used in ${owner})`);
      }
      owners.set(alias, entry.file);
    });
  }
}

function checkDefaults(entries: readonly RegistryEntry[]): void {
  const defaults = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.config.isDefault) continue;
    const other = defaults.get(entry.config.task);
    if (other !== undefined) {
      throw variantFieldError(entry.file, 'default', `at most one default variant per task`, true, ` (${other} is already the default for ${entry.config.task})`);
    }
    defaults.set(entry.config.task, entry.file);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
