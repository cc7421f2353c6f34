/**
 * `--torch`: the PyTorch side-by-side (tools/bench/torch_caption.py) on the same config, run with Debian's
 * /usr/bin/python3 and its python3-torch, 2 threads, never the pyenv interpreter (which has no torch).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './common.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO, 'tools/bench/torch_caption.py');
export const TORCH_THREADS = 2;

export interface TorchResult {
  torch_version: string;
  threads: number;
  tokens: number;
  runs: number;
  caption_ms: number[];
  vision_ms: number[];
  median_caption_ms: number;
  median_vision_ms: number;
  cache_checked: boolean | null;
}

/** Throws a message naming the package to install when Debian's torch is missing; call it before the long run. */
export async function checkTorchAvailable(): Promise<string> {
  const hint = 'the --torch side-by-side needs Debian\'s PyTorch: apt-get install python3-torch';
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: ${hint}`);
  try {
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', 'import torch; print(torch.__version__)']);
    return stdout.trim();
  } catch (error) {
    throw new Error(`${PYTHON} cannot import torch (${(error as Error).message.split('\n')[0]}): ${hint}`);
  }
}

export async function runTorchCaption(configFile: string, tokens: number, runs: number, check: boolean): Promise<TorchResult> {
  const args = [SCRIPT, '--config', configFile, '--tokens', String(tokens), '--runs', String(runs), '--threads', String(TORCH_THREADS)];
  if (check) args.push('--check');
  const threads = String(TORCH_THREADS);
  // Debian's interpreter with its own packages: no pyenv or virtualenv paths leaking in.
  const { PYTHONPATH: _path, PYTHONHOME: _home, VIRTUAL_ENV: _venv, ...env } = process.env;
  const { stdout } = await promisify(execFile)(PYTHON, args, {
    env: { ...env, OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads },
    maxBuffer: 1024 * 1024,
    timeout: 30 * 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as TorchResult;
}
