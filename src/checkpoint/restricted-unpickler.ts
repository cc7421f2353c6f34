/**
 * A pickle reader that never runs code. It implements the data opcodes of protocols 0–5 and hands every operation
 * that would import or call something (GLOBAL, REDUCE, NEWOBJ, INST, OBJ, BUILD, persistent ids) to a policy object,
 * which decides what is allowed. With a policy that rejects everything, any pickle that is more than plain data fails.
 *
 * Values come out as JS values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list → array, tuple → PickleTuple, dict → PickleDict, set → PickleSet.
 */
import { checkpointError } from '../errors.ts';

/** A Python tuple (kept apart from lists: callers check that arguments really are tuples). */
export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A Python dict or dict subclass (e.g. `collections.OrderedDict`); keys keep insertion order like Python's. */
export class PickleDict {
  readonly entries = new Map<unknown, unknown>();
  constructor(readonly className: string) {}
}

/** A Python set or frozenset. */
export class PickleSet {
  readonly items: unknown[] = [];
  constructor(readonly frozen: boolean) {}
}

/** Decides what the pickle may construct. Every method either returns a value or throws. */
export interface UnpicklePolicy {
  /** GLOBAL / STACK_GLOBAL / INST / OBJ: the object a `module.name` import stands for. */
  findGlobal(module: string, name: string): unknown;
  /** REDUCE / NEWOBJ / INST / OBJ: `callable(*args)`. */
  call(callable: unknown, args: readonly unknown[]): unknown;
  /** BUILD: apply `state` to `target` (Python's `__setstate__`); returns the object that replaces `target`. */
  build(target: unknown, state: unknown): unknown;
  /** PERSID / BINPERSID: resolve an out-of-band reference. */
  persistentLoad(pid: unknown): unknown;
}

/**
 * Unpickles `bytes` under `policy`. Malformed input throws `checkpointError(file, '<what> ...')` with the byte offset.
 */
export function unpickle(bytes: Uint8Array, policy: UnpicklePolicy, file: string, what: string): unknown {
  return new Unpickler(bytes, policy, file, what).run();
}

// Private: one run over one pickle.
class Unpickler {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #policy: UnpicklePolicy;
  readonly #file: string;
  readonly #what: string;
  #pos = 0;
  #opcodeStart = 0;
  #stack: unknown[] = [];
  readonly #marks: unknown[][] = [];
  readonly #memo = new Map<number, unknown>();

  constructor(bytes: Uint8Array, policy: UnpicklePolicy, file: string, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#policy = policy;
    this.#file = file;
    this.#what = what;
  }

  run(): unknown {
    for (;;) {
      this.#opcodeStart = this.#pos;
      const opcode = this.#byte();
      if (opcode === 0x2e /* STOP '.' */) {
        if (this.#stack.length === 0) throw this.#error('STOP with an empty stack');
        return this.#stack.pop();
      }
      this.#step(opcode);
    }
  }

  #step(opcode: number): void {
    switch (opcode) {
      // Protocol and framing.
      case 0x80 /* PROTO */: {
        const version = this.#byte();
        if (version > 5) throw this.#error(`unsupported pickle protocol ${version}`);
        return;
      }
      case 0x95 /* FRAME */:
        this.#take(8); // Frames only group opcodes for buffered I/O; the whole pickle is in memory already.
        return;

      // Stack manipulation.
      case 0x28 /* MARK '(' */:
        this.#marks.push(this.#stack);
        this.#stack = [];
        return;
      case 0x30 /* POP '0' */:
        if (this.#stack.length > 0) this.#stack.pop();
        else this.#popMark();
        return;
      case 0x31 /* POP_MARK '1' */:
        this.#popMark();
        return;
      case 0x32 /* DUP '2' */:
        this.#push(this.#top());
        return;

      // Memo.
      case 0x70 /* PUT 'p' */:
        this.#memo.set(this.#decimalLine(), this.#top());
        return;
      case 0x71 /* BINPUT 'q' */:
        this.#memo.set(this.#byte(), this.#top());
        return;
      case 0x72 /* LONG_BINPUT 'r' */:
        this.#memo.set(this.#uint32(), this.#top());
        return;
      case 0x94 /* MEMOIZE */:
        this.#memo.set(this.#memo.size, this.#top());
        return;
      case 0x67 /* GET 'g' */:
        this.#push(this.#memoGet(this.#decimalLine()));
        return;
      case 0x68 /* BINGET 'h' */:
        this.#push(this.#memoGet(this.#byte()));
        return;
      case 0x6a /* LONG_BINGET 'j' */:
        this.#push(this.#memoGet(this.#uint32()));
        return;

      // Constants and numbers.
      case 0x4e /* NONE 'N' */:
        this.#push(null);
        return;
      case 0x88 /* NEWTRUE */:
        this.#push(true);
        return;
      case 0x89 /* NEWFALSE */:
        this.#push(false);
        return;
      case 0x49 /* INT 'I' */: {
        const text = this.#line();
        if (text === '00') this.#push(false);
        else if (text === '01') this.#push(true);
        else this.#push(this.#parseInteger(text));
        return;
      }
      case 0x4c /* LONG 'L' */:
        this.#push(this.#parseInteger(this.#line().replace(/L$/, '')));
        return;
      case 0x4a /* BININT 'J' */:
        this.#push(this.#view.getInt32(this.#advance(4), true));
        return;
      case 0x4b /* BININT1 'K' */:
        this.#push(this.#byte());
        return;
      case 0x4d /* BININT2 'M' */:
        this.#push(this.#view.getUint16(this.#advance(2), true));
        return;
      case 0x8a /* LONG1 */:
        this.#push(decodeLong(this.#take(this.#byte())));
        return;
      case 0x8b /* LONG4 */: {
        const length = this.#view.getInt32(this.#advance(4), true);
        if (length < 0) throw this.#error('LONG4 with a negative length');
        this.#push(decodeLong(this.#take(length)));
        return;
      }
      case 0x46 /* FLOAT 'F' */:
        this.#push(parsePythonFloat(this.#line()));
        return;
      case 0x47 /* BINFLOAT 'G' */:
        this.#push(this.#view.getFloat64(this.#advance(8), false));
        return;

      // Strings and bytes.
      case 0x53 /* STRING 'S' */:
        this.#push(this.#parseQuotedString(this.#line()));
        return;
      case 0x54 /* BINSTRING 'T' */:
        this.#push(latin1(this.#take(this.#int32Length())));
        return;
      case 0x55 /* SHORT_BINSTRING 'U' */:
        this.#push(latin1(this.#take(this.#byte())));
        return;
      case 0x56 /* UNICODE 'V' */: {
        const text = this.#line();
        try {
          this.#push(decodeRawUnicodeEscape(text));
        } catch {
          throw this.#error('UNICODE argument has an invalid \\U escape');
        }
        return;
      }
      case 0x58 /* BINUNICODE 'X' */:
        this.#push(this.#utf8(this.#take(this.#uint32())));
        return;
      case 0x8c /* SHORT_BINUNICODE */:
        this.#push(this.#utf8(this.#take(this.#byte())));
        return;
      case 0x8d /* BINUNICODE8 */:
        this.#push(this.#utf8(this.#take(this.#uint64())));
        return;
      case 0x42 /* BINBYTES 'B' */:
        this.#push(this.#take(this.#uint32()).slice());
        return;
      case 0x43 /* SHORT_BINBYTES 'C' */:
        this.#push(this.#take(this.#byte()).slice());
        return;
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */:
        this.#push(this.#take(this.#uint64()).slice());
        return;

      // Containers.
      case 0x29 /* EMPTY_TUPLE ')' */:
        this.#push(new PickleTuple([]));
        return;
      case 0x74 /* TUPLE 't' */:
        this.#push(new PickleTuple(this.#popMark()));
        return;
      case 0x85 /* TUPLE1 */:
        this.#push(new PickleTuple(this.#popN(1)));
        return;
      case 0x86 /* TUPLE2 */:
        this.#push(new PickleTuple(this.#popN(2)));
        return;
      case 0x87 /* TUPLE3 */:
        this.#push(new PickleTuple(this.#popN(3)));
        return;
      case 0x5d /* EMPTY_LIST ']' */:
        this.#push([]);
        return;
      case 0x6c /* LIST 'l' */:
        this.#push(this.#popMark());
        return;
      case 0x61 /* APPEND 'a' */: {
        const item = this.#pop();
        this.#list(this.#top(), 'APPEND').push(item);
        return;
      }
      case 0x65 /* APPENDS 'e' */: {
        const items = this.#popMark();
        this.#list(this.#top(), 'APPENDS').push(...items);
        return;
      }
      case 0x7d /* EMPTY_DICT '}' */:
        this.#push(new PickleDict('dict'));
        return;
      case 0x64 /* DICT 'd' */: {
        const dict = new PickleDict('dict');
        this.#setItems(dict, this.#popMark());
        this.#push(dict);
        return;
      }
      case 0x73 /* SETITEM 's' */: {
        const pair = this.#popN(2);
        this.#setItems(this.#dict(this.#top(), 'SETITEM'), pair);
        return;
      }
      case 0x75 /* SETITEMS 'u' */: {
        const items = this.#popMark();
        this.#setItems(this.#dict(this.#top(), 'SETITEMS'), items);
        return;
      }
      case 0x8f /* EMPTY_SET */:
        this.#push(new PickleSet(false));
        return;
      case 0x90 /* ADDITEMS */: {
        const items = this.#popMark();
        const target = this.#top();
        if (!(target instanceof PickleSet) || target.frozen) {
          throw this.#error('ADDITEMS on something that is not a set');
        }
        target.items.push(...items);
        return;
      }
      case 0x91 /* FROZENSET */: {
        const set = new PickleSet(true);
        set.items.push(...this.#popMark());
        this.#push(set);
        return;
      }

      // Everything that imports or calls goes through the policy.
      case 0x63 /* GLOBAL 'c' */: {
        const module = this.#line();
        const name = this.#line();
        this.#push(this.#policy.findGlobal(module, name));
        return;
      }
      case 0x93 /* STACK_GLOBAL */: {
        const [module, name] = this.#popN(2);
        if (typeof module !== 'string' || typeof name !== 'string') throw this.#error('STACK_GLOBAL needs two strings');
        this.#push(this.#policy.findGlobal(module, name));
        return;
      }
      case 0x52 /* REDUCE 'R' */: {
        const args = this.#pop();
        const callable = this.#pop();
        if (!(args instanceof PickleTuple)) throw this.#error('REDUCE arguments are not a tuple');
        this.#push(this.#policy.call(callable, args.items));
        return;
      }
      case 0x81 /* NEWOBJ */: {
        const args = this.#pop();
        const cls = this.#pop();
        if (!(args instanceof PickleTuple)) throw this.#error('NEWOBJ arguments are not a tuple');
        this.#push(this.#policy.call(cls, args.items));
        return;
      }
      case 0x92 /* NEWOBJ_EX */: {
        const [cls, args, kwargs] = this.#popN(3);
        if (!(args instanceof PickleTuple)) throw this.#error('NEWOBJ_EX arguments are not a tuple');
        if (!(kwargs instanceof PickleDict) || kwargs.entries.size > 0) {
          throw this.#error('NEWOBJ_EX with keyword arguments is not supported');
        }
        this.#push(this.#policy.call(cls, args.items));
        return;
      }
      case 0x69 /* INST 'i' */: {
        const module = this.#line();
        const name = this.#line();
        const cls = this.#policy.findGlobal(module, name);
        this.#push(this.#policy.call(cls, this.#popMark()));
        return;
      }
      case 0x6f /* OBJ 'o' */: {
        const [cls, ...args] = this.#popMark();
        this.#push(this.#policy.call(cls, args));
        return;
      }
      case 0x62 /* BUILD 'b' */: {
        const state = this.#pop();
        const target = this.#pop();
        this.#push(this.#policy.build(target, state));
        return;
      }
      case 0x50 /* PERSID 'P' */:
        this.#push(this.#policy.persistentLoad(this.#line()));
        return;
      case 0x51 /* BINPERSID 'Q' */:
        this.#push(this.#policy.persistentLoad(this.#pop()));
        return;

      case 0x82 /* EXT1 */:
      case 0x83 /* EXT2 */:
      case 0x84 /* EXT4 */:
        throw this.#error('uses the copyreg extension registry, which is not allowed');
      case 0x97 /* NEXT_BUFFER */:
      case 0x98 /* READONLY_BUFFER */:
        throw this.#error('uses out-of-band buffers, which are not supported');
      default:
        throw this.#error(`unknown opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
  }

  // #region stack helpers
  #push(value: unknown): void {
    this.#stack.push(value);
  }

  #pop(): unknown {
    if (this.#stack.length === 0) throw this.#error('stack underflow');
    return this.#stack.pop();
  }

  #top(): unknown {
    if (this.#stack.length === 0) throw this.#error('stack underflow');
    return this.#stack[this.#stack.length - 1];
  }

  #popN(count: number): unknown[] {
    if (this.#stack.length < count) throw this.#error('stack underflow');
    return this.#stack.splice(this.#stack.length - count, count);
  }

  /** Returns the items pushed since the last MARK and restores the stack below it. */
  #popMark(): unknown[] {
    const below = this.#marks.pop();
    if (below === undefined) throw this.#error('no MARK to pop to');
    const items = this.#stack;
    this.#stack = below;
    return items;
  }

  #memoGet(index: number): unknown {
    if (!this.#memo.has(index)) throw this.#error(`memo entry ${index} was never stored`);
    return this.#memo.get(index);
  }

  #list(target: unknown, opcode: string): unknown[] {
    if (!Array.isArray(target)) throw this.#error(`${opcode} on something that is not a list`);
    return target;
  }

  #dict(target: unknown, opcode: string): PickleDict {
    if (!(target instanceof PickleDict)) throw this.#error(`${opcode} on something that is not a dict`);
    return target;
  }

  #setItems(dict: PickleDict, flat: unknown[]): void {
    if (flat.length % 2 !== 0) throw this.#error('odd number of items for a dict');
    for (let i = 0; i < flat.length; i += 2) dict.entries.set(flat[i], flat[i + 1]);
  }
  // #endregion

  // #region byte readers
  /** Moves past `count` bytes and returns where they start. */
  #advance(count: number): number {
    if (count > this.#bytes.length - this.#pos) throw this.#error('the pickle ends in the middle of an opcode');
    const start = this.#pos;
    this.#pos += count;
    return start;
  }

  #byte(): number {
    return this.#bytes[this.#advance(1)];
  }

  #take(count: number): Uint8Array {
    const start = this.#advance(count);
    return this.#bytes.subarray(start, start + count);
  }

  #uint32(): number {
    return this.#view.getUint32(this.#advance(4), true);
  }

  #int32Length(): number {
    const length = this.#view.getInt32(this.#advance(4), true);
    if (length < 0) throw this.#error('negative length');
    return length;
  }

  #uint64(): number {
    const value = this.#view.getBigUint64(this.#advance(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.#error('length does not fit in memory');
    return Number(value);
  }

  /** A newline-terminated text argument (protocol 0), without the newline. */
  #line(): string {
    const end = this.#bytes.indexOf(0x0a, this.#pos);
    if (end < 0) throw this.#error('the pickle ends in the middle of an opcode');
    const text = latin1(this.#bytes.subarray(this.#pos, end));
    this.#pos = end + 1;
    return text;
  }

  #decimalLine(): number {
    const text = this.#line();
    if (!/^\d+$/.test(text)) throw this.#error(`Expected a decimal memo index but received ${JSON.stringify(text)}`);
    return Number(text);
  }

  #utf8(bytes: Uint8Array): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw this.#error('a string is not valid UTF-8');
    }
  }
  // #endregion

  #parseInteger(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text)) throw this.#error(`Expected an integer but received ${JSON.stringify(text)}`);
    return narrowInteger(BigInt(text));
  }

  /** Protocol-0 STRING: a Python `repr` of a byte string, quoted with ' or ". */
  #parseQuotedString(text: string): string {
    const quote = text[0];
    if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
      throw this.#error('STRING argument is not quoted');
    }
    return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, escape: string) => {
      if (escape[0] === 'x') return String.fromCharCode(parseInt(escape.slice(1), 16));
      if (/^[0-7]/.test(escape)) return String.fromCharCode(parseInt(escape, 8));
      return SIMPLE_ESCAPES[escape] ?? `\\${escape}`;
    });
  }

  #error(message: string): Error {
    return checkpointError(this.#file, `${this.#what}: ${message} (opcode at byte ${this.#opcodeStart})`);
  }
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

/** Little-endian two's-complement integer of any width (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return narrowInteger(value);
}

function narrowInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function parsePythonFloat(text: string): number {
  const lower = text.trim().toLowerCase();
  if (lower === 'inf' || lower === '+inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  return Number(lower);
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Protocol-0 UNICODE: latin-1 text where only \uXXXX and \UXXXXXXXX are escapes. */
function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, short?: string, long?: string) =>
    String.fromCodePoint(parseInt(short ?? long ?? '0', 16)),
  );
}
