import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { closestNames } from '../registry/closest-names.ts';
import { exists } from '../registry/installation.ts';
import { readVariantConfig, VARIANT_FILE, type VariantConfig } from '../registry/variant-config.ts';
import { HubError, HubErrorKind } from './hub-error.ts';

export interface RegistryVariant {
  folder: string;
  dir: string;
  config: VariantConfig;
}

/** Every readable variant.json of the registry folder (a broken one is skipped here; the server reports it). */
export async function readRegistryVariants(registryDir: string): Promise<RegistryVariant[]> {
  let folders: string[];
  try {
    folders = (await readdir(registryDir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const variants: RegistryVariant[] = [];
  for (const folder of folders) {
    const dir = join(registryDir, folder);
    if (!(await exists(join(dir, VARIANT_FILE)))) continue;
    try {
      variants.push({ folder, dir, config: await readVariantConfig(join(dir, VARIANT_FILE), folder) });
    } catch {
      // Not ours to judge here.
    }
  }
  return variants;
}

/** A variant by name or alias; throws USAGE with the closest names. */
export function findVariant(variants: readonly RegistryVariant[], name: string): RegistryVariant {
  const found = variants.find((v) => v.config.name === name || v.config.aliases.includes(name));
  if (found) return found;
  const names = variants.flatMap((v) => [v.config.name, ...v.config.aliases]).sort();
  const closest = closestNames(name, names);
  throw new HubError(HubErrorKind.USAGE, `Unknown variant "${name}"${closest.length > 0 ? ` (closest: ${closest.join(', ')})` : ''}; or give a Hugging Face repository id (org/name) with --name NAME`);
}
