import { WorkerBackend } from '../backend/worker/worker-backend.ts';
import { loadConfig } from '../config/config.ts';
import { createModelRegistry, type RegistryEvent } from '../registry/model-registry.ts';

interface PrepareFlags {
  registry?: string;
}

/**
 * `blip-gateway prepare`: converts the embedded variants whose files are missing or out of date (what the server does
 * at start-up, before it listens) and exits. A container image runs it at build time, so that its pods start without
 * converting and can run with a read-only root file system. The registry folder and repository root are those the
 * server would use (REGISTRY_DIR, REPO_ROOT), unless --registry names another folder.
 */
export async function runPrepare(flags: PrepareFlags): Promise<void> {
  const config = loadConfig();
  const registry = await createModelRegistry({
    root: flags.registry ?? config.registryDir,
    repoRoot: config.repoRoot,
    // Nothing is loaded: workers start only on a request, and this command serves none.
    pipeline: { imageLimits: { ...config.limits.image } },
    startBackend: (dir, options) => WorkerBackend.start(dir, options),
    onEvent: report,
  });
  try {
    await registry.prepareEmbedded();
  } finally {
    await registry.close();
  }
  const installed = registry.list().filter((variant) => variant.installed);
  process.stderr.write(`ready: ${installed.map((variant) => variant.name).join(', ') || 'no installed variants'}\n`);
}

function report(event: RegistryEvent): void {
  if (event.type === 'convert-started') process.stderr.write(`converting ${event.variant}: ${event.reason}\n`);
  else if (event.type === 'convert-finished') process.stderr.write(`converted ${event.variant} in ${(event.durationMs / 1000).toFixed(1)} s\n`);
  else if (event.type === 'convert-skipped') process.stderr.write(`${event.variant}: ${event.reason}\n`);
  else if (event.type === 'convert-waiting') process.stderr.write(`${event.variant}: waiting for another conversion (${event.lockFile})\n`);
}
