import { loadHubConfig } from '../config/config.ts';
import { removeVariant } from '../hub/variant-files.ts';
import { formatBytes } from './pull-progress.ts';

/** `blip-gateway remove <name>`. */
export async function runRemove(name: string): Promise<void> {
  const { registryDir } = loadHubConfig();
  const removed = await removeVariant(registryDir, name);
  process.stdout.write(
    removed.folder
      ? `removed ${removed.name}: the whole folder ${removed.dir} (${formatBytes(removed.bytes)})\n`
      : `removed the converted files of ${removed.name} (${formatBytes(removed.bytes)}); ${removed.dir}/variant.json stays, so it is listed as not installed\n`,
  );
}
