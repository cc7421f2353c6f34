/** Reading the optional JSON files of a checkpoint, with errors that name the file (and the field). */
import { readFile } from 'node:fs/promises';
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';

/** `value` as a JSON object; undefined for null or a missing value; throws for anything else. */
export function asObject(value: unknown, file: string, field?: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw checkpointError(file, `Expected a JSON object${field ? ` for ${field}` : ''} but received ${describeValue(value)}`);
}

/** The parsed file, or undefined when it does not exist. */
export async function readJsonIfPresent(file: string): Promise<unknown> {
  const text = await readTextIfPresent(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw checkpointError(file, `Expected valid JSON but parsing failed (${(cause as Error).message})`, cause);
  }
}

/** The file's text, or undefined when it does not exist. */
export async function readTextIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw checkpointError(file, `Expected a readable file but reading failed (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
}
