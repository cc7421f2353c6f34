import { isAbsolute, relative } from 'node:path';
import { ErrorCode, ServiceError } from '../errors.ts';
import type { Task } from '../variant/manifest.ts';
import { closestNames } from './closest-names.ts';
import type { RegistryEntry } from './repository.ts';
import type { VariantInfo, VariantState } from './types.ts';
import type { VariantMemory } from './variant-memory.ts';
import type { Variant } from './variant-slot.ts';

/** Longer names cannot be variant names or aliases; they are refused without computing suggestions. */
const MAX_NAME_LENGTH = 200;

// How the registry names, finds and describes its variants: lookups by name or task, and what clients are told.

export function describeVariant(variant: Variant, repoRoot: string, inFlight: number, memory: VariantMemory | null): VariantInfo {
  const { entry, slot } = variant;
  const { config, installation } = entry;
  const installed = installation.status === 'installed';
  return {
    name: config.name,
    aliases: [...config.aliases],
    task: config.task,
    description: config.description,
    installed,
    state: slot.state satisfies VariantState,
    loadError: slot.state === 'failed' ? { code: slot.error.code, message: slot.error.message } : null,
    isDefault: config.isDefault,
    parameters: installed ? installation.manifest.parameters : null,
    precision: config.precision,
    bytes: installed ? installation.bytes : null,
    memory: memory && { weightBytes: memory.weightBytes, workingBytes: memory.workingBytes, totalBytes: memory.totalBytes },
    source: config.source.kind === 'huggingFace' ? config.source.id : config.source.path,
    revision: installed ? (installation.manifest.source.revision ?? null) : null,
    installCommand: installed ? null : installCommandOf(entry, repoRoot),
    batching: { ...config.batching },
    directory: entry.dir,
    pinned: variant.pinned,
    inFlight,
  };
}

/** The one command that installs the variant, written to be run from the repository root. */
export function installCommandOf(entry: RegistryEntry, repoRoot: string): string {
  const fromRoot = relative(repoRoot, entry.dir);
  const out = fromRoot === '' || fromRoot.startsWith('..') || isAbsolute(fromRoot) ? entry.dir : fromRoot;
  const source = entry.config.source;
  if (source.kind === 'huggingFace') return `npx blip-gateway pull ${quote(entry.config.name)}`;
  return `npx blip-gateway convert ${quote(source.path)} --out ${quote(out)}${entry.config.precision === 'fp32' ? '' : ` --precision ${entry.config.precision}`}`;
}

export function namedVariant(byName: ReadonlyMap<string, Variant>, nameOrAlias: string): Variant {
  const variant = byName.get(nameOrAlias);
  if (variant) return variant;
  if (nameOrAlias.length > MAX_NAME_LENGTH) {
    // No suggestions and no echo: edit distances against a megabyte-long name would stall the server.
    throw new ServiceError(ErrorCode.MODEL_NOT_FOUND, `Unknown model (a name of ${nameOrAlias.length} characters; names are at most ${MAX_NAME_LENGTH})`, {
      details: { suggestions: [] },
    });
  }
  const suggestions = closestNames(nameOrAlias, [...byName.keys()].sort());
  throw new ServiceError(
    ErrorCode.MODEL_NOT_FOUND,
    `Unknown model "${nameOrAlias}".${suggestions.length > 0 ? ` Closest: ${suggestions.join(', ')}` : ' The registry is empty'}`,
    { details: { model: nameOrAlias, suggestions } },
  );
}

export function defaultVariant(variants: readonly Variant[], task: Task): Variant {
  const variant = variants.find((v) => v.entry.config.task === task && v.entry.config.isDefault);
  if (variant) return variant;
  const suggestions = variants.filter((v) => v.entry.config.task === task && v.entry.installation.status === 'installed').map((v) => v.entry.config.name);
  throw new ServiceError(
    ErrorCode.MODEL_NOT_FOUND,
    `No default ${task} model is configured; name one` + (suggestions.length > 0 ? ` of: ${suggestions.join(', ')}` : ''),
    { details: { task, suggestions } },
  );
}

export function requireInstalled(variant: Variant, repoRoot: string): void {
  if (variant.entry.installation.status === 'installed') return;
  const name = variant.entry.config.name;
  const installCommand = installCommandOf(variant.entry, repoRoot);
  throw new ServiceError(ErrorCode.MODEL_NOT_INSTALLED, `Model "${name}" is not installed. Install it with: ${installCommand}`, {
    details: { model: name, installCommand },
  });
}

/** A variant of the other task, with the default of the requested task as the alternative. */
export function wrongTaskError(name: string, variantTask: Task, task: Task, variants: readonly Variant[]): ServiceError {
  const alternative = variants.find((other) => other.entry.config.task === task && other.entry.config.isDefault)?.entry.config.name;
  return new ServiceError(
    ErrorCode.WRONG_TASK,
    `Model "${name}" is a ${variantTask} model and cannot ${task === 'vqa' ? 'answer questions' : 'caption images'}` + (alternative ? `; use a ${task} model such as "${alternative}"` : ''),
    { details: { model: name, task: variantTask, requestedTask: task } },
  );
}

/** Quotes a command-line word only when a shell would split or expand it (placeholders contain spaces). */
function quote(word: string): string {
  return /^[\w./@:+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
