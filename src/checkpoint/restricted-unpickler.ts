/**
 * A pickle reader that never runs code. It implements the data opcodes of protocols 0–5 and hands every operation
 * that would import or call something (GLOBAL, REDUCE, NEWOBJ, INST, OBJ, BUILD, persistent ids) to a policy object,
 * which decides what is allowed. With a policy that rejects everything, any pickle that is more than plain data fails.
 *
 * Values come out as JS values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list → array, tuple → PickleTuple, dict → PickleDict, set → PickleSet.
 */
import { PickleInput, latin1 } from './pickle-input.ts';
import { decodeLong, decodeRawUnicodeEscape, parseInteger, parsePythonFloat, unquotePythonString } from './pickle-scalars.ts';
import { PickleDict, PickleSet, PickleTuple, type UnpicklePolicy } from './pickle-values.ts';

// The values unpickle returns and the policy it takes are part of this module's interface.
export { PickleDict, PickleSet, PickleTuple, type UnpicklePolicy } from './pickle-values.ts';

/**
 * Unpickles `bytes` under `policy`. Malformed input throws `checkpointError(file, '<what> ...')` with the byte offset.
 */
export function unpickle(bytes: Uint8Array, policy: UnpicklePolicy, file: string, what: string): unknown {
  return new Unpickler(bytes, policy, file, what).run();
}

// Private: one run over one pickle.
class Unpickler {
  readonly #in: PickleInput;
  readonly #policy: UnpicklePolicy;
  #stack: unknown[] = [];
  readonly #marks: unknown[][] = [];
  readonly #memo = new Map<number, unknown>();

  constructor(bytes: Uint8Array, policy: UnpicklePolicy, file: string, what: string) {
    this.#in = new PickleInput(bytes, file, what);
    this.#policy = policy;
  }

  run(): unknown {
    for (;;) {
      const opcode = this.#in.opcode();
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
        const version = this.#in.byte();
        if (version > 5) throw this.#error(`unsupported pickle protocol ${version}`);
        return;
      }
      case 0x95 /* FRAME */:
        this.#in.take(8); // Frames only group opcodes for buffered I/O; the whole pickle is in memory already.
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
        this.#memo.set(this.#in.decimalLine(), this.#top());
        return;
      case 0x71 /* BINPUT 'q' */:
        this.#memo.set(this.#in.byte(), this.#top());
        return;
      case 0x72 /* LONG_BINPUT 'r' */:
        this.#memo.set(this.#in.uint32(), this.#top());
        return;
      case 0x94 /* MEMOIZE */:
        this.#memo.set(this.#memo.size, this.#top());
        return;
      case 0x67 /* GET 'g' */:
        this.#push(this.#memoGet(this.#in.decimalLine()));
        return;
      case 0x68 /* BINGET 'h' */:
        this.#push(this.#memoGet(this.#in.byte()));
        return;
      case 0x6a /* LONG_BINGET 'j' */:
        this.#push(this.#memoGet(this.#in.uint32()));
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
        const text = this.#in.line();
        if (text === '00') this.#push(false);
        else if (text === '01') this.#push(true);
        else this.#push(this.#integer(text));
        return;
      }
      case 0x4c /* LONG 'L' */:
        this.#push(this.#integer(this.#in.line().replace(/L$/, '')));
        return;
      case 0x4a /* BININT 'J' */:
        this.#push(this.#in.int32());
        return;
      case 0x4b /* BININT1 'K' */:
        this.#push(this.#in.byte());
        return;
      case 0x4d /* BININT2 'M' */:
        this.#push(this.#in.uint16());
        return;
      case 0x8a /* LONG1 */:
        this.#push(decodeLong(this.#in.take(this.#in.byte())));
        return;
      case 0x8b /* LONG4 */: {
        const length = this.#in.int32();
        if (length < 0) throw this.#error('LONG4 with a negative length');
        this.#push(decodeLong(this.#in.take(length)));
        return;
      }
      case 0x46 /* FLOAT 'F' */:
        this.#push(parsePythonFloat(this.#in.line()));
        return;
      case 0x47 /* BINFLOAT 'G' */:
        this.#push(this.#in.float64BigEndian());
        return;

      // Strings and bytes.
      case 0x53 /* STRING 'S' */:
        this.#push(this.#quotedString(this.#in.line()));
        return;
      case 0x54 /* BINSTRING 'T' */:
        this.#push(latin1(this.#in.take(this.#in.int32Length())));
        return;
      case 0x55 /* SHORT_BINSTRING 'U' */:
        this.#push(latin1(this.#in.take(this.#in.byte())));
        return;
      case 0x56 /* UNICODE 'V' */: {
        const text = this.#in.line();
        try {
          this.#push(decodeRawUnicodeEscape(text));
        } catch {
          throw this.#error('UNICODE argument has an invalid \\U escape');
        }
        return;
      }
      case 0x58 /* BINUNICODE 'X' */:
        this.#push(this.#in.utf8(this.#in.take(this.#in.uint32())));
        return;
      case 0x8c /* SHORT_BINUNICODE */:
        this.#push(this.#in.utf8(this.#in.take(this.#in.byte())));
        return;
      case 0x8d /* BINUNICODE8 */:
        this.#push(this.#in.utf8(this.#in.take(this.#in.uint64())));
        return;
      case 0x42 /* BINBYTES 'B' */:
        this.#push(this.#in.take(this.#in.uint32()).slice());
        return;
      case 0x43 /* SHORT_BINBYTES 'C' */:
        this.#push(this.#in.take(this.#in.byte()).slice());
        return;
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */:
        this.#push(this.#in.take(this.#in.uint64()).slice());
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
        const module = this.#in.line();
        const name = this.#in.line();
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
        const module = this.#in.line();
        const name = this.#in.line();
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
        this.#push(this.#policy.persistentLoad(this.#in.line()));
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

  #integer(text: string): number | bigint {
    const value = parseInteger(text);
    if (value === undefined) throw this.#error(`Expected an integer but received ${JSON.stringify(text)}`);
    return value;
  }

  #quotedString(text: string): string {
    const value = unquotePythonString(text);
    if (value === undefined) throw this.#error('STRING argument is not quoted');
    return value;
  }

  #error(message: string): Error {
    return this.#in.error(message);
  }
}
