import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { verificationDims } from '../models/blip/verification-dims.ts';
import { writeOptimizedGraphs, type OptimizedGraphs } from '../runtime/optimized-model.ts';
import { MANIFEST_FILE, readManifest } from '../variant/manifest.ts';

/**
 * `blip-gateway optimize <variant-dir>`: (re)writes the saved optimized graphs of a converted variant for this
 * machine's ONNX Runtime and CPU, and records them in its manifest. What a load's warning asks for after an ONNX
 * Runtime upgrade or a move to another kind of CPU; no reconversion needed. Run it while no server loads the variant.
 */
export async function runOptimize(variantDir: string): Promise<void> {
  const dir = resolve(variantDir);
  const manifest = await readManifest(dir);
  const started = Date.now();
  const graphs = Object.values(manifest.graphs).filter((g): g is string => typeof g === 'string');
  const optimized = await writeOptimizedGraphs(dir, graphs, verificationDims(manifest.graphs));
  // Rewritten from the file's own JSON, so fields this version does not know survive.
  const file = join(dir, MANIFEST_FILE);
  const json = { ...(JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>), optimized };
  await writeFile(`${file}.tmp`, `${JSON.stringify(json, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`optimized ${graphs.length} graphs of ${dir} for onnxruntime ${optimized.onnxruntime} on ${optimized.cpu} in ${seconds} s; prepacked weights saved for ${prepacked(optimized)}\n`);
}

function prepacked(optimized: OptimizedGraphs): string {
  const names = Object.entries(optimized.graphs).filter(([, g]) => g.prepacked).map(([name]) => name);
  return names.length > 0 ? names.join(', ') : 'no graph';
}
