import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempRegistry, officialVariant, type TempRegistry } from './temp-registry.ts';

export const CLI = new URL('../../bin/blip-gateway.mjs', import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `blip-gateway …` in its own process with `env` on top of a clean environment (no HF_* of the host). */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 120_000): Promise<CliResult> {
  return runProgram(process.execPath, [CLI, ...args], env, timeoutMs);
}

/** Runs a program with `env` on top of the environment without HF_* and registry settings; fails clearly when missing. */
export function runProgram(file: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 120_000): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HF_') && key !== 'REGISTRY_DIR' && key !== 'AUTO_INSTALL'));
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...base, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return reject(new Error(`${file} is not installed${file === "script" ? " (script(1) comes with Debian's bsdutils package, part of util-linux)" : ""}`));
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temp registry with the two official-style variants the emulator serves, and a private Hugging Face cache. */
export interface PullWorld {
  registry: TempRegistry;
  cacheDir: string;
  env(hubUrl: string, extra?: Record<string, string | undefined>): Record<string, string | undefined>;
  cleanup(): Promise<void>;
}

export const CAPTION_REPO = 'Salesforce/blip-image-captioning-base';
export const VQA_REPO = 'Salesforce/blip-vqa-base';

export async function createPullWorld(): Promise<PullWorld> {
  const registry = await createTempRegistry();
  await registry.writeVariant('blip-base', officialVariant('blip-base', 'caption', { source: { huggingFace: CAPTION_REPO }, aliases: [CAPTION_REPO] }));
  await registry.writeVariant('blip-vqa-base', officialVariant('blip-vqa-base', 'vqa', { source: { huggingFace: VQA_REPO } }));
  const cacheDir = await mkdtemp(join(tmpdir(), 'hf-cache-'));
  return {
    registry,
    cacheDir,
    env: (hubUrl, extra = {}) => ({ HF_ENDPOINT: hubUrl, HF_HUB_CACHE: cacheDir, REGISTRY_DIR: registry.root, ...extra }),
    cleanup: async () => {
      await registry.cleanup();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
