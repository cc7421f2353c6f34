import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes a converted variant's graph `graph` unloadable: its bytes become garbage of the same size (so the folder still
 * counts as installed), and the manifest forgets its saved optimized graphs, so that the garbage graph is what the
 * worker loads. Returns a function that puts both back.
 */
export async function garbleGraph(dir: string, graph: string): Promise<() => Promise<void>> {
  const file = join(dir, graph);
  const manifestFile = join(dir, 'manifest.json');
  const [original, manifest] = await Promise.all([readFile(file), readFile(manifestFile, 'utf8')]);
  const { optimized: _, ...withoutOptimized } = JSON.parse(manifest) as Record<string, unknown>;
  await writeFile(manifestFile, JSON.stringify(withoutOptimized, null, 2));
  await writeFile(file, Buffer.alloc((await stat(file)).size, 0x5a));
  return async () => {
    await writeFile(file, original);
    await writeFile(manifestFile, manifest);
  };
}
