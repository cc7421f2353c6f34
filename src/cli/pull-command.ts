import { loadHubConfig } from '../config/config.ts';
import { HubError } from '../hub/hub-error.ts';
import { pull, type Precision } from '../hub/pull.ts';
import { createRenderer, type ProgressMode } from './pull-progress.ts';

interface PullFlags {
  revision?: string;
  precision?: Precision;
  name?: string;
  json?: boolean;
}

/** `blip-gateway pull`: settings from the environment (HF_*, REGISTRY_DIR), progress to stderr or JSON to stdout. */
export async function runPull(target: string, flags: PullFlags): Promise<void> {
  const settings = loadHubConfig();
  const mode: ProgressMode = flags.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
  const renderer = createRenderer(mode, process.stdout, process.stderr);
  try {
    await pull({ target, revision: flags.revision, precision: flags.precision, name: flags.name }, settings, (event) => renderer.event(event));
  } catch (error) {
    if (error instanceof HubError) renderer.error(error);
    throw error;
  }
}
