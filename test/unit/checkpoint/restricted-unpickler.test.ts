import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PickleDict,
  PickleSet,
  PickleTuple,
  unpickle,
  type UnpicklePolicy,
} from '../../../src/checkpoint/restricted-unpickler.ts';
import { ErrorCode } from '../../../src/errors.ts';
import { PickleWriter } from '../../helpers/pickle-writer.ts';

const PYTHON_PICKLES = JSON.parse(readFileSync(join(import.meta.dirname, 'python-pickles.json'), 'utf8')) as {
  pickles: Record<string, string>;
};

/** A policy that allows nothing: plain data must unpickle without it. */
const DATA_ONLY: UnpicklePolicy = {
  findGlobal: (module, name) => {
    throw new Error(`findGlobal ${module}.${name}`);
  },
  call: () => {
    throw new Error('call');
  },
  build: () => {
    throw new Error('build');
  },
  persistentLoad: () => {
    throw new Error('persistentLoad');
  },
};

/** Turns unpickled values into plain JS for deep comparison. */
function plain(value: unknown): unknown {
  if (value instanceof PickleDict) {
    return Object.fromEntries([...value.entries].map(([key, item]) => [String(key), plain(item)]));
  }
  if (value instanceof PickleTuple) return { tuple: value.items.map(plain) };
  if (value instanceof PickleSet) return { set: [...value.items].map(plain).sort(), frozen: value.frozen };
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

describe('unpickle on pickles written by CPython', () => {
  const common = {
    ints: [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2n ** 70n, -(2n ** 70n)],
    floats: [1.5, -0, Infinity],
    text: ['', 'abc', 'caf\u00e9 \u2603', 'line\nbreak'],
    consts: { tuple: [null, true, false] },
    tuples: [{ tuple: [] }, { tuple: [1] }, { tuple: [1, 2] }, { tuple: [1, 2, 3] }, { tuple: [1, 2, 3, 4] }],
    nested: { k: [[], {}] },
    shared: [['s'], ['s']],
  };
  for (const [protocol, text] of Object.entries(PYTHON_PICKLES.pickles)) {
    it(`protocol ${protocol}: decodes every value without touching the policy`, () => {
      const result = unpickle(hex(text), DATA_ONLY, 'test.pkl', 'data.pkl');
      const expected =
        Number(protocol) >= 4
          ? {
              ...common,
              bytes: { bytes: [0, 255, 120, 121] },
              sets: [
                { set: [1, 2], frozen: false },
                { set: [3], frozen: true },
              ],
            }
          : common;
      expect(plain(result)).toEqual(expected);
      expect(Object.is((plain(result) as { floats: number[] }).floats[1], -0)).toBe(true);
      // The memo makes both references the same list, as in Python.
      const shared = (result as PickleDict).entries.get('shared') as unknown[];
      expect(shared[0]).toBe(shared[1]);
    });
  }
});

describe('unpickle hands imports, calls and BUILD to the policy', () => {
  it('passes GLOBAL and STACK_GLOBAL names, REDUCE arguments, BUILD state and persistent ids', () => {
    const calls: unknown[] = [];
    const policy: UnpicklePolicy = {
      findGlobal: (module, name) => ({ global: `${module}.${name}` }),
      call: (callable, args) => {
        calls.push(['call', callable, args.map(plain)]);
        return { made: callable };
      },
      build: (target, state) => {
        calls.push(['build', target, plain(state)]);
        return target;
      },
      persistentLoad: (pid) => ({ pid: plain(pid) }),
    };
    const w = new PickleWriter().proto(4);
    w.mark();
    w.global('a.b', 'f').str('x').int(7).op(0x86 /* TUPLE2 */).reduce();
    w.stackGlobal('m', 'g').emptyTuple().op(0x81 /* NEWOBJ */).emptyDict().str('k').int(1).setItem().build();
    w.mark().str('storage').str('0').tuple().binPersId();
    w.op(0x6c /* LIST */).stop();
    const result = unpickle(w.bytes(), policy, 'f.pkl', 'data.pkl');
    expect(result).toEqual([{ made: { global: 'a.b.f' } }, { made: { global: 'm.g' } }, { pid: { tuple: ['storage', '0'] } }]);
    expect(calls).toEqual([
      ['call', { global: 'a.b.f' }, ['x', 7]],
      ['call', { global: 'm.g' }, []],
      ['build', { made: { global: 'm.g' } }, { k: 1 }],
    ]);
  });

  it('lets a policy error stop the unpickling before anything else runs', () => {
    const policy: UnpicklePolicy = {
      ...DATA_ONLY,
      findGlobal: (module, name) => {
        throw new Error(`no ${module}.${name}`);
      },
    };
    const bytes = new PickleWriter().proto(2).global('os', 'system').str('rm -rf /').op(0x85).reduce().stop().bytes();
    expect(() => unpickle(bytes, policy, 'f.pkl', 'data.pkl')).toThrow('no os.system');
  });
});

describe('unpickle rejects malformed pickles with the file, part and byte offset', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['a pickle cut short', new PickleWriter().proto(2).op(0x58, 10, 0, 0, 0, 0x61).bytes(), /ends in the middle of an opcode \(opcode at byte 2\)/],
    ['a pickle without STOP', new PickleWriter().proto(2).none().bytes(), /ends in the middle of an opcode \(opcode at byte 3\)/],
    ['an unknown opcode', new PickleWriter().proto(2).op(0xff).bytes(), /unknown opcode 0xff \(opcode at byte 2\)/],
    ['a protocol from the future', new PickleWriter().proto(6).stop().bytes(), /unsupported pickle protocol 6/],
    ['a memo entry never stored', new PickleWriter().proto(2).binGet(3).stop().bytes(), /memo entry 3 was never stored/],
    ['a stack underflow', new PickleWriter().proto(2).op(0x86).stop().bytes(), /stack underflow/],
    ['TUPLE without MARK', new PickleWriter().proto(2).tuple().stop().bytes(), /no MARK to pop to/],
    ['SETITEMS on a list', new PickleWriter().proto(2).op(0x5d).mark().int(1).int(2).setItems().stop().bytes(), /SETITEMS on something that is not a dict/],
    ['the copyreg extension registry', new PickleWriter().proto(2).op(0x82, 1).stop().bytes(), /copyreg extension registry/],
    ['out-of-band buffers', new PickleWriter().proto(5).op(0x97).stop().bytes(), /out-of-band buffers/],
    ['REDUCE with non-tuple arguments', new PickleWriter().proto(2).none().none().reduce().stop().bytes(), /REDUCE arguments are not a tuple/],
  ];
  for (const [label, bytes, message] of cases) {
    it(`rejects ${label}`, () => {
      expect(() => unpickle(bytes, DATA_ONLY, '/m/pytorch_model.bin', 'pytorch_model/data.pkl')).toThrow(
        expect.objectContaining({
          code: ErrorCode.INVALID_CHECKPOINT,
          message: expect.stringMatching(new RegExp(`^/m/pytorch_model\\.bin: pytorch_model/data\\.pkl: .*${message.source}`)),
        }),
      );
    });
  }
});
