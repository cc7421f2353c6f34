/**
 * Python scalars as pickles spell them: two's-complement longs of any width, and the text forms of protocol 0
 * (integers, floats, quoted byte strings, raw-unicode-escaped text). Parsers return undefined for text they do not
 * accept, so that the caller can name the opcode in its error.
 */

/** Little-endian two's-complement integer of any width (LONG1/LONG4). */
export function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return narrowInteger(value);
}

/** Protocol-0 INT / LONG text (without LONG's trailing L); undefined when it is not an integer. */
export function parseInteger(text: string): number | bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  return narrowInteger(BigInt(text));
}

export function parsePythonFloat(text: string): number {
  const lower = text.trim().toLowerCase();
  if (lower === 'inf' || lower === '+inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  return Number(lower);
}

/** Protocol-0 STRING: a Python `repr` of a byte string, quoted with ' or "; undefined when it is not quoted. */
export function unquotePythonString(text: string): string | undefined {
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) return undefined;
  return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, escape: string) => {
    if (escape[0] === 'x') return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (/^[0-7]/.test(escape)) return String.fromCharCode(parseInt(escape, 8));
    return SIMPLE_ESCAPES[escape] ?? `\\${escape}`;
  });
}

/** Protocol-0 UNICODE: latin-1 text where only \uXXXX and \UXXXXXXXX are escapes (throws on a code point > 0x10FFFF). */
export function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, short?: string, long?: string) =>
    String.fromCodePoint(parseInt(short ?? long ?? '0', 16)),
  );
}

// Private: a JS number where it is exact, a bigint beyond 2^53.
function narrowInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};
