import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { openTorchCheckpoint } from '../../../src/checkpoint/torch-checkpoint.ts';
import { ErrorCode } from '../../../src/errors.ts';
import { PickleWriter, stateDictPickle, type TensorDescription } from '../../helpers/pickle-writer.ts';
import { float32Bytes } from '../../helpers/safetensors-writer.ts';
import { writeZip, type ZipInput } from '../../helpers/zip-writer.ts';

const TINY = join(import.meta.dirname, '../../fixtures/blip-tiny');

let dir: string;
/** Float data to fill crafted storages with: the fixture's first weight matrix. */
let sample: Float32Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blip-torch-'));
  const source = await openSafetensors(join(TINY, 'caption/model.safetensors'));
  sample = await source.readFloat32('text_decoder.bert.embeddings.word_embeddings.weight');
  await source.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface CheckpointParts {
  pickle: Uint8Array;
  storages?: Record<string, Uint8Array>;
  prefix?: string;
  extra?: ZipInput[];
  deflate?: boolean;
}

/** A torch.save-style archive: `<prefix>/data.pkl`, `<prefix>/data/<key>`, `<prefix>/version`. */
async function writeCheckpoint(name: string, parts: CheckpointParts): Promise<string> {
  const file = join(dir, name);
  const prefix = parts.prefix ?? 'archive';
  const entries: ZipInput[] = [{ name: `${prefix}/data.pkl`, data: parts.pickle, deflate: parts.deflate }];
  for (const [key, data] of Object.entries(parts.storages ?? {})) {
    entries.push({ name: `${prefix}/data/${key}`, data, deflate: parts.deflate });
  }
  entries.push({ name: `${prefix}/version`, data: new TextEncoder().encode('3\n') }, ...(parts.extra ?? []));
  await writeZip(file, entries);
  return file;
}

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(float32Bytes(a)).equals(Buffer.from(float32Bytes(b)));
}

describe('openTorchCheckpoint on the tiny fixtures', () => {
  for (const task of ['caption', 'vqa'] as const) {
    it(`${task}: pytorch_model.bin holds the same names, shapes and bit-identical values as model.safetensors`, async () => {
      const torch = await openTorchCheckpoint(join(TINY, task, 'pytorch_model.bin'));
      const safe = await openSafetensors(join(TINY, task, 'model.safetensors'));
      try {
        const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
        expect(torch.list().sort(byName)).toEqual(safe.list().sort(byName));
        for (const info of safe.list()) {
          const expected = await safe.readFloat32(info.name);
          const actual = await torch.readFloat32(info.name);
          expect(bytesEqual(actual, expected), info.name).toBe(true);
        }
      } finally {
        await torch.close();
        await safe.close();
      }
    });
  }
});

describe('openTorchCheckpoint rebuilds tensors the way torch does', () => {
  it('handles OrderedDict state dicts with _metadata, parameters, offsets, shared storages and strided views', async () => {
    const storage = sample.subarray(0, 60);
    const tensors: TensorDescription[] = [
      { name: 'plain', storage: { key: '0', type: 'FloatStorage', numel: 60 }, shape: [3, 4] },
      // A view into the same storage that starts at element 12 (like a slice of a bigger parameter).
      { name: 'offset', storage: { key: '0', type: 'FloatStorage', numel: 60 }, offset: 12, shape: [2, 5], parameter: true },
      // A transposed view: shape [5, 3] over a [3, 5] block, strides (1, 5).
      { name: 'transposed', storage: { key: '0', type: 'FloatStorage', numel: 60 }, offset: 30, shape: [5, 3], stride: [1, 5] },
      // Every other element of each row, 3-d.
      { name: 'strided3d', storage: { key: '0', type: 'FloatStorage', numel: 60 }, offset: 1, shape: [2, 3, 4], stride: [24, 8, 2] },
      { name: 'scalar', storage: { key: '0', type: 'FloatStorage', numel: 60 }, offset: 59, shape: [], stride: [] },
      { name: 'empty', storage: { key: '0', type: 'FloatStorage', numel: 60 }, shape: [0, 4] },
    ];
    const file = await writeCheckpoint('views.bin', {
      pickle: stateDictPickle(tensors, { ordered: true }),
      storages: { '0': float32Bytes(storage) },
    });
    const source = await openTorchCheckpoint(file);
    try {
      expect(source.list()).toEqual(
        tensors.map((tensor) => ({ name: tensor.name, dtype: 'F32', shape: tensor.shape })),
      );
      const at = (index: number): number => storage[index];
      expect(Array.from(await source.readFloat32('plain'))).toEqual(Array.from(storage.subarray(0, 12)));
      expect(Array.from(await source.readFloat32('offset'))).toEqual(Array.from(storage.subarray(12, 22)));
      const transposed: number[] = [];
      for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) transposed.push(at(30 + i + 5 * j));
      expect(Array.from(await source.readFloat32('transposed'))).toEqual(transposed);
      const strided: number[] = [];
      for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 4; c++) strided.push(at(1 + 24 * a + 8 * b + 2 * c));
      expect(Array.from(await source.readFloat32('strided3d'))).toEqual(strided);
      expect(Array.from(await source.readFloat32('scalar'))).toEqual([at(59)]);
      expect(await source.readFloat32('empty')).toHaveLength(0);
    } finally {
      await source.close();
    }
  });

  it('converts half, bfloat16 and double storages, honours byteorder "big", reads deflated entries', async () => {
    const values = sample.subarray(0, 8);
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const bf16 = Uint16Array.from(bits, (word) => word >>> 16);
    const bf16Values = new Float32Array(Uint32Array.from(bf16, (half) => half << 16).buffer);
    // IEEE binary16 by definition: 1, -2, 65504, 2^-24.
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]);
    const f64 = Float64Array.from(values);
    const bigEndian = (bytes: Uint8Array, size: number): Uint8Array => {
      const out = bytes.slice();
      for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
      return out;
    };
    const tensors: TensorDescription[] = [
      { name: 'half', storage: { key: 'h', type: 'HalfStorage', numel: 4 }, shape: [4] },
      { name: 'bf16', storage: { key: 'b', type: 'BFloat16Storage', numel: 8 }, shape: [2, 4] },
      { name: 'double', storage: { key: 'd', type: 'DoubleStorage', numel: 8 }, shape: [4, 2], stride: [1, 4] },
      { name: 'ids', storage: { key: 'i', type: 'LongStorage', numel: 3 }, shape: [1, 3] },
    ];
    const storages = {
      h: new Uint8Array(f16.buffer),
      b: new Uint8Array(bf16.buffer),
      d: new Uint8Array(f64.buffer),
      i: new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer),
    };
    const little = await writeCheckpoint('dtypes.bin', { pickle: stateDictPickle(tensors), storages, deflate: true });
    const big = await writeCheckpoint('dtypes-big.bin', {
      pickle: stateDictPickle(tensors),
      storages: { h: bigEndian(storages.h, 2), b: bigEndian(storages.b, 2), d: bigEndian(storages.d, 8), i: bigEndian(storages.i, 8) },
      extra: [{ name: 'archive/byteorder', data: new TextEncoder().encode('big') }],
    });
    for (const file of [little, big]) {
      const source = await openTorchCheckpoint(file);
      try {
        expect(Array.from(await source.readFloat32('half'))).toEqual([1, -2, 65504, 2 ** -24]);
        expect(bytesEqual(await source.readFloat32('bf16'), bf16Values)).toBe(true);
        const transposed: number[] = [];
        for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) transposed.push(values[i + 4 * j]);
        expect(Array.from(await source.readFloat32('double'))).toEqual(transposed);
        expect(source.get('ids')).toEqual({ name: 'ids', dtype: 'I64', shape: [1, 3] });
        await expect(source.readFloat32('ids')).rejects.toThrow(/Expected a floating-point dtype for weight 'ids' but received I64/);
      } finally {
        await source.close();
      }
    }
  });
});

describe('openTorchCheckpoint refuses hostile and broken files', () => {
  const expectRejection = async (file: string, message: RegExp): Promise<void> => {
    await expect(openTorchCheckpoint(file)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CHECKPOINT,
      message: expect.stringMatching(message),
    });
    await expect(openTorchCheckpoint(file)).rejects.toThrow(new RegExp(`^${file}: `));
  };

  it('refuses a pickle that asks for os.system', async () => {
    const pickle = new PickleWriter().proto(2).global('os', 'system').str('touch /tmp/pwned').op(0x85).reduce().stop().bytes();
    await expectRejection(await writeCheckpoint('os-system.bin', { pickle }), /pickle asks for os\.system, only tensor rebuilding is allowed/);
  });

  it('refuses a pickle that asks for builtins.eval through STACK_GLOBAL', async () => {
    const pickle = new PickleWriter().proto(4).stackGlobal('builtins', 'eval').str('1+1').op(0x85).reduce().stop().bytes();
    await expectRejection(await writeCheckpoint('eval.bin', { pickle }), /pickle asks for builtins\.eval, only tensor rebuilding is allowed/);
  });

  it('refuses a disallowed global hidden inside an otherwise valid state dict', async () => {
    const w = new PickleWriter().proto(2).emptyDict().mark().str('w');
    w.global('torch._utils', '_rebuild_tensor_v2').op(0x30 /* POP */).global('torch', 'load').str('x').op(0x85).reduce();
    const pickle = w.setItems().stop().bytes();
    await expectRejection(await writeCheckpoint('hidden.bin', { pickle }), /pickle asks for torch\.load, only tensor rebuilding/);
  });

  it('refuses calling an allowed storage class directly', async () => {
    const pickle = new PickleWriter().proto(2).global('torch', 'FloatStorage').int(10).op(0x85).reduce().stop().bytes();
    await expectRejection(await writeCheckpoint('storage-call.bin', { pickle }), /pickle asks for torch\.FloatStorage\(\.\.\.\), only tensor rebuilding/);
  });

  it('refuses BUILD on anything but a dict', async () => {
    const pickle = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyDict().build().stop().bytes();
    await expectRejection(await writeCheckpoint('build.bin', { pickle }), /pickle asks for BUILD of collections\.OrderedDict, only tensor rebuilding/);
  });

  it('refuses a zip without data.pkl', async () => {
    const file = join(dir, 'no-pickle.bin');
    await writeZip(file, [{ name: 'archive/data/0', data: new Uint8Array(16) }]);
    await expectRejection(file, /Expected a <prefix>\/data\.pkl entry \(torch\.save zip format\) but the archive has none/);
  });

  it('refuses a truncated zip', async () => {
    const file = join(dir, 'truncated.bin');
    await copyFile(join(TINY, 'caption/pytorch_model.bin'), file);
    const size = (await readFile(file)).length;
    await truncate(file, Math.floor(size / 2));
    await expectRejection(file, /is not a readable zip archive: .*\(truncated or corrupt\?\)/);
  });

  it('refuses a storage entry that is too short for its tensor', async () => {
    const tensors: TensorDescription[] = [{ name: 'w', storage: { key: '0', type: 'FloatStorage', numel: 16 }, shape: [4, 4] }];
    const file = await writeCheckpoint('short.bin', {
      pickle: stateDictPickle(tensors),
      storages: { '0': float32Bytes(sample.subarray(0, 10)) },
    });
    await expectRejection(
      file,
      /storage entry 'archive\/data\/0' is too short: 16 × FloatStorage elements need 64 bytes but the entry holds 40/,
    );
  });

  it('refuses a storage the archive does not contain', async () => {
    const tensors: TensorDescription[] = [{ name: 'w', storage: { key: '7', type: 'FloatStorage', numel: 4 }, shape: [4] }];
    const file = await writeCheckpoint('missing-storage.bin', { pickle: stateDictPickle(tensors) });
    await expectRejection(file, /the pickle refers to storage '7' but the archive has no entry 'archive\/data\/7'/);
  });

  it('refuses a view that reads past the end of its storage', async () => {
    const tensors: TensorDescription[] = [
      { name: 'w', storage: { key: '0', type: 'FloatStorage', numel: 16 }, offset: 4, shape: [4, 4] },
    ];
    const file = await writeCheckpoint('overrun.bin', {
      pickle: stateDictPickle(tensors),
      storages: { '0': float32Bytes(sample.subarray(0, 16)) },
    });
    await expectRejection(file, /tensor 'w' \[4,4\] \(offset 4, stride \[4,1\]\) reads up to element 20 of storage '0', which holds 16/);
  });

  it('refuses a state dict entry that is not a tensor', async () => {
    const pickle = new PickleWriter().proto(2).emptyDict().str('step').int(3).setItem().stop().bytes();
    await expectRejection(await writeCheckpoint('not-tensor.bin', { pickle }), /Expected a tensor for state dict entry 'step' but received a number 3/);
  });

  it('explains that legacy (pre-1.6) torch files must be re-saved', async () => {
    const file = join(dir, 'legacy.bin');
    // Legacy torch.save output starts with a protocol-2 pickle of its magic number.
    await writeFile(file, new PickleWriter().proto(2).int(0x1950a86a20f9).stop().bytes());
    await expectRejection(file, /legacy \(pre-1\.6, non-zip\) torch\.save file.*re-save it/);
  });

  it('refuses a file that is not a zip', async () => {
    const file = join(dir, 'text.bin');
    await writeFile(file, 'hello world');
    await expectRejection(file, /Expected a zip archive \(torch\.save format\) but the file starts with \[104,101,108,108\]/);
  });

  it('names the file when it does not exist', async () => {
    await expectRejection(join(dir, 'missing.bin'), /cannot open the weights file/);
  });
});

describe('openTorchCheckpoint is lazy', () => {
  it('opens an archive with a 2.5 GB storage and reads one small tensor without loading the rest', async () => {
    const hugeElements = 640 * 1024 * 1024;
    const small = sample.subarray(0, 32);
    const tensors: TensorDescription[] = [
      { name: 'huge', storage: { key: '0', type: 'FloatStorage', numel: hugeElements }, shape: [hugeElements] },
      { name: 'small', storage: { key: '1', type: 'FloatStorage', numel: 32 }, shape: [4, 8] },
    ];
    const file = join(dir, 'sparse.bin');
    await writeZip(file, [
      { name: 'archive/data.pkl', data: stateDictPickle(tensors) },
      { name: 'archive/data/0', sparseSize: hugeElements * 4 },
      { name: 'archive/data/1', data: float32Bytes(small) },
    ]);
    const before = process.memoryUsage().rss;
    const source = await openTorchCheckpoint(file);
    try {
      expect(source.get('huge')).toEqual({ name: 'huge', dtype: 'F32', shape: [hugeElements] });
      expect(bytesEqual(await source.readFloat32('small'), small)).toBe(true);
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    } finally {
      await source.close();
      await rm(file);
    }
  });
});
