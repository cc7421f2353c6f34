/**
 * How checkpoint error messages print what they received: short, JSON-like, never a whole file.
 */

/** A value as JSON, cut to `limit` characters (`undefined` and functions print as their names). */
export function describeValue(value: unknown, limit = 80): string {
  let text: string | undefined;
  try {
    text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = String(value);
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}

/** `[768,3,16,16]`, the spelling used in every shape message. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
