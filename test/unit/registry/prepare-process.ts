/**
 * A server start-up reduced to what touches the registry folder: `node --import tsx prepare-process.ts <root> <repo>`
 * scans, converts embedded variants, and prints each registry event as a JSON line. Used to start two at once.
 */
import { DEFAULT_IMAGE_LIMITS } from '../../../src/config/defaults.ts';
import { createModelRegistry } from '../../../src/registry/model-registry.ts';
import { startWorkerBackend } from '../../helpers/worker-backend.ts';

const [root, repoRoot] = process.argv.slice(2);
const registry = await createModelRegistry({
  root,
  repoRoot,
  pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS },
  startBackend: startWorkerBackend,
  onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
});
await registry.prepareEmbedded();
await registry.close();
