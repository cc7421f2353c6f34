import { checkpointError } from '../errors.ts';

/**
 * The bytes of one pickle, read front to back: fixed-width little-endian numbers, length-prefixed byte strings and
 * the newline-terminated text arguments of protocol 0. Reading past the end, and every error the unpickler raises,
 * become `checkpointError(file, '<what>: ... (opcode at byte N)')` naming the opcode being read.
 */
export class PickleInput {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #file: string;
  readonly #what: string;
  #pos = 0;
  #opcodeStart = 0;

  constructor(bytes: Uint8Array, file: string, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#file = file;
    this.#what = what;
  }

  /** Reads the next opcode and remembers where it starts (for error messages). */
  opcode(): number {
    this.#opcodeStart = this.#pos;
    return this.byte();
  }

  error(message: string): Error {
    return checkpointError(this.#file, `${this.#what}: ${message} (opcode at byte ${this.#opcodeStart})`);
  }

  byte(): number {
    return this.#bytes[this.#advance(1)];
  }

  take(count: number): Uint8Array {
    const start = this.#advance(count);
    return this.#bytes.subarray(start, start + count);
  }

  uint16(): number {
    return this.#view.getUint16(this.#advance(2), true);
  }

  int32(): number {
    return this.#view.getInt32(this.#advance(4), true);
  }

  uint32(): number {
    return this.#view.getUint32(this.#advance(4), true);
  }

  /** A signed 32-bit length that must not be negative. */
  int32Length(): number {
    const length = this.int32();
    if (length < 0) throw this.error('negative length');
    return length;
  }

  uint64(): number {
    const value = this.#view.getBigUint64(this.#advance(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error('length does not fit in memory');
    return Number(value);
  }

  /** BINFLOAT: the one big-endian number of the format. */
  float64BigEndian(): number {
    return this.#view.getFloat64(this.#advance(8), false);
  }

  /** A newline-terminated text argument (protocol 0), without the newline. */
  line(): string {
    const end = this.#bytes.indexOf(0x0a, this.#pos);
    if (end < 0) throw this.error('the pickle ends in the middle of an opcode');
    const text = latin1(this.#bytes.subarray(this.#pos, end));
    this.#pos = end + 1;
    return text;
  }

  decimalLine(): number {
    const text = this.line();
    if (!/^\d+$/.test(text)) throw this.error(`Expected a decimal memo index but received ${JSON.stringify(text)}`);
    return Number(text);
  }

  utf8(bytes: Uint8Array): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw this.error('a string is not valid UTF-8');
    }
  }

  /** Moves past `count` bytes and returns where they start. */
  #advance(count: number): number {
    if (count > this.#bytes.length - this.#pos) throw this.error('the pickle ends in the middle of an opcode');
    const start = this.#pos;
    this.#pos += count;
    return start;
  }
}

/** Bytes as latin-1 text (Python 2 `str`, protocol-0 arguments). */
export function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}
