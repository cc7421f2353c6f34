import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlipTask } from '../models/blip/checkpoint/blip-config.ts';
import { withLock } from '../registry/convert-lock.ts';
import { CONVERTER_VERSION } from '../models/blip/convert/convert-checkpoint.ts';
import { exists, inspectInstallation } from '../registry/installation.ts';
import { VARIANT_FILE } from '../registry/variant-config.ts';
import { fetchSnapshot } from './fetch-snapshot.ts';
import { HubError, HubErrorKind } from './hub-error.ts';
import { installVariant } from './install-variant.ts';
import type { PullEvent } from './pull-events.ts';
import { findVariant, readRegistryVariants } from './registry-lookup.ts';

export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
/**
 * What the converter can write today. int8 comes with quantization in the converter (issue 12); until it lands a pull
 * asking for it is refused rather than silently converted to fp32.
 */
export const CONVERTER_PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

export interface PullRequest {
  /** A registry variant's name or alias, or a Hugging Face repository id (`org/name`, then with `name`). */
  target: string;
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  precision?: Precision;
  /** Install as this variant (a new one, with its variant.json written by the pull). */
  name?: string;
}

export interface PullSettings {
  registryDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  cacheDir: string;
}

export interface PullPlan {
  name: string;
  repo: string;
  /** The task variant.json declares, or null for a new variant. */
  expectedTask: BlipTask | null;
  newVariant: boolean;
  /** The precision variant.json declares, or null for a new variant (then `--precision`, default fp32). */
  precision: Precision | null;
}

export interface PullResult {
  name: string;
  dir: string;
  repo: string;
  commit: string;
  task: BlipTask;
}

/**
 * `blip-gateway pull`: downloads the converter's files of a BLIP repository into the Hugging Face cache (resolved
 * commit, resumed and verified) and converts them into `<registryDir>/<name>`. Pulls of one variant take turns
 * under a lock file, across processes.
 */
export async function pull(request: PullRequest, settings: PullSettings, onEvent: (event: PullEvent) => void, signal?: AbortSignal): Promise<PullResult> {
  const precision = request.precision ?? 'fp32';
  if (!CONVERTER_PRECISIONS.includes(precision)) {
    throw new HubError(HubErrorKind.USAGE, `--precision ${precision} is not supported by this converter yet (it writes ${CONVERTER_PRECISIONS.join(', ')})`);
  }
  await mkdir(settings.registryDir, { recursive: true });
  const plan = await planPull(request, settings.registryDir);
  // A registry variant has one precision (its variant.json): the other precision is its twin (blip-base-int8).
  if (plan.precision !== null && request.precision !== undefined && request.precision !== plan.precision) {
    throw new HubError(HubErrorKind.USAGE, `"${plan.name}" is a ${plan.precision} variant; pull its ${request.precision} twin, or install under another name with --name`);
  }
  const effective = plan.precision ?? precision;
  const lockFile = join(settings.registryDir, `.${plan.name}.pull.lock`);
  return withLock(
    lockFile,
    () => onEvent({ type: 'waiting', lockFile }),
    async () => {
      const snapshot = await fetchSnapshot({
        repo: plan.repo,
        revision: request.revision ?? 'main',
        access: { endpoint: settings.endpoint, token: settings.token },
        cacheDir: settings.cacheDir,
        offline: settings.offline,
        onEvent,
        signal,
      });
      const task = snapshot.config.task;
      const dir = join(settings.registryDir, plan.name);
      const current = await upToDate(dir, plan.repo, snapshot.commit, effective);
      if (current !== null) {
        onEvent({ type: 'installed', name: plan.name, dir, repo: plan.repo, commit: snapshot.commit, task, bytes: current });
        return { name: plan.name, dir, repo: plan.repo, commit: snapshot.commit, task };
      }
      const manifest = await installVariant({
        registryDir: settings.registryDir,
        name: plan.name,
        repo: plan.repo,
        commit: snapshot.commit,
        checkpointDir: snapshot.dir,
        expectedTask: plan.expectedTask,
        precision: effective,
        newVariant: plan.newVariant ? { description: `BLIP ${task === 'vqa' ? 'visual question answering' : 'captioning'} model pulled from ${plan.repo}` } : null,
        onEvent,
      });
      const bytes = Object.values(manifest.files).reduce((sum, file) => sum + file.bytes, 0);
      onEvent({ type: 'installed', name: plan.name, dir, repo: plan.repo, commit: snapshot.commit, task, bytes });
      return { name: plan.name, dir, repo: plan.repo, commit: snapshot.commit, task };
    },
  );
}

/**
 * The installed bytes when the folder already holds this commit of this repository, converted by this converter:
 * pulling again (or a second server installing the same variant) then converts nothing.
 */
async function upToDate(dir: string, repo: string, commit: string, precision: Precision): Promise<number | null> {
  try {
    const installation = await inspectInstallation(dir);
    if (installation.status !== 'installed') return null;
    const { source, converter } = installation.manifest;
    const same = source.huggingFace === repo && source.revision === commit && installation.manifest.precision === precision;
    return same && converter.version === CONVERTER_VERSION ? installation.bytes : null;
  } catch {
    return null;
  }
}

const REPO_ID = /^[\w.-]+\/[\w.-]+$/;
const VARIANT_NAME = /^[\w-][\w.-]*$/;

/** Which variant a pull installs and from which repository (see `PullRequest.target`). */
export async function planPull(request: PullRequest, registryDir: string): Promise<PullPlan> {
  const variants = await readRegistryVariants(registryDir);
  const { target, name } = request;
  const named = variants.find((v) => v.config.name === target || v.config.aliases.includes(target));
  if (named && (name === undefined || name === named.config.name)) {
    const source = named.config.source;
    if (source.kind !== 'huggingFace') {
      throw new HubError(HubErrorKind.USAGE, `"${named.config.name}" is converted from the checkpoint ${source.path} in this repository, not pulled from the Hub`);
    }
    return { name: named.config.name, repo: source.id, expectedTask: named.config.task, newVariant: false, precision: named.config.precision };
  }
  if (name === undefined) {
    if (REPO_ID.test(target)) throw new HubError(HubErrorKind.USAGE, `${target} is not a registry variant: add --name NAME to install it as a new variant`);
    findVariant(variants, target);
  }
  const repo = named?.config.source.kind === 'huggingFace' ? named.config.source.id : target;
  if (!REPO_ID.test(repo)) throw new HubError(HubErrorKind.USAGE, `Expected a Hugging Face repository id such as Salesforce/blip-image-captioning-base but received "${repo}"`);
  if (!VARIANT_NAME.test(name!)) throw new HubError(HubErrorKind.USAGE, `--name: expected letters, digits, "-", "_" or "." (not starting with ".") but received "${name}"`);
  const existing = variants.find((v) => v.config.name === name || v.config.aliases.includes(name!));
  if (existing) {
    const source = existing.config.source;
    if (existing.config.name !== name || source.kind !== 'huggingFace' || source.id !== repo) {
      const from = source.kind === 'huggingFace' ? source.id : source.path;
      throw new HubError(HubErrorKind.USAGE, `--name ${name} is taken by variant "${existing.config.name}" (from ${from}); choose another name`);
    }
    return { name: name!, repo, expectedTask: existing.config.task, newVariant: false, precision: existing.config.precision };
  }
  // A folder without a readable variant.json is what a failed pull of a new variant leaves: it is replaced.
  if ((await exists(join(registryDir, name!, VARIANT_FILE))) && !existing) {
    throw new HubError(HubErrorKind.USAGE, `${join(registryDir, name!, VARIANT_FILE)} exists but cannot be read; fix or remove it first`);
  }
  return { name: name!, repo, expectedTask: null, newVariant: true, precision: null };
}
