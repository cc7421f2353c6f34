import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBlipConfig } from '../../../src/models/blip/checkpoint/config-reader.ts';
import { openSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { blipWeightSpec } from '../../../src/models/blip/checkpoint/weight-spec.ts';
import { ErrorCode } from '../../../src/errors.ts';
import { float32Bytes, writeRawSafetensors, writeSafetensors } from '../../helpers/safetensors-writer.ts';

const TINY = join(import.meta.dirname, '../../fixtures/blip-tiny');
const CAPTION_FILE = join(TINY, 'caption/model.safetensors');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blip-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fixture's first few tensors, to build variants from. */
async function fixtureTensors(count: number): Promise<Array<{ name: string; shape: number[]; values: Float32Array }>> {
  const source = await openSafetensors(CAPTION_FILE);
  try {
    const infos = source.list().slice(0, count);
    return Promise.all(infos.map(async (info) => ({ ...info, values: await source.readFloat32(info.name) })));
  } finally {
    await source.close();
  }
}

describe('openSafetensors on the tiny fixtures', () => {
  for (const task of ['caption', 'vqa'] as const) {
    it(`${task}: lists exactly the tensors of the weight spec with their shapes, all F32`, async () => {
      const source = await openSafetensors(join(TINY, task, 'model.safetensors'));
      try {
        const spec = blipWeightSpec(await readBlipConfig(join(TINY, task)));
        const expected = spec.entries
          .filter((entry) => entry.presence !== 'ignored')
          .map((entry) => ({ name: entry.name, dtype: 'F32', shape: entry.shape }));
        const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
        expect(source.list().sort(byName)).toEqual(expected.sort(byName));
        expect(source.list()).toHaveLength(task === 'caption' ? 92 : 148);
        expect(source.get('__metadata__')).toBeUndefined();
        expect(source.file).toBe(join(TINY, task, 'model.safetensors'));
      } finally {
        await source.close();
      }
    });
  }

  it('reads each tensor from its own byte range of the file', async () => {
    const source = await openSafetensors(CAPTION_FILE);
    const bytes = await readFile(CAPTION_FILE);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    try {
      for (const info of source.list()) {
        const [begin, end] = header[info.name].data_offsets;
        const raw = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
        const values = await source.readFloat32(info.name);
        expect(values.length).toBe(info.shape.reduce((a, b) => a * b, 1));
        expect(Buffer.from(float32Bytes(values)).equals(raw)).toBe(true);
      }
    } finally {
      await source.close();
    }
  });

  it('rejects reads of unknown names and reads after close', async () => {
    const source = await openSafetensors(CAPTION_FILE);
    await expect(source.readFloat32('nope')).rejects.toThrow(/Expected a tensor named 'nope'/);
    await source.close();
    await source.close();
    await expect(source.readFloat32('vision_model.post_layernorm.bias')).rejects.toThrow(/closed/);
  });
});

describe('openSafetensors dtype conversion', () => {
  it('widens F16, BF16 and F64 to float32 and refuses integer tensors', async () => {
    const [tensor] = await fixtureTensors(1);
    const values = tensor.values;
    const file = join(dir, 'dtypes.safetensors');
    // BF16 keeps the upper 16 bits of each float32; F64 is exact.
    const bf16 = new Uint16Array(values.length);
    const asBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) bf16[i] = asBits[i] >>> 16;
    const f64 = Float64Array.from(values);
    // IEEE binary16 bit patterns by definition: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 0.5, +inf.
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3800, 0x7c00]);
    await writeSafetensors(file, [
      { name: 'bf16', dtype: 'BF16', shape: [values.length], data: new Uint8Array(bf16.buffer) },
      { name: 'f64', dtype: 'F64', shape: [values.length], data: new Uint8Array(f64.buffer) },
      { name: 'f16', dtype: 'F16', shape: [6], data: new Uint8Array(f16.buffer) },
      { name: 'ids', dtype: 'I64', shape: [2], data: new Uint8Array(16) },
    ]);
    const source = await openSafetensors(file);
    try {
      const truncated = new Float32Array(new Uint32Array(Array.from(asBits, (bits) => bits & 0xffff0000)).buffer);
      expect(await source.readFloat32('bf16')).toEqual(truncated);
      expect(await source.readFloat32('f64')).toEqual(values);
      expect(Array.from(await source.readFloat32('f16'))).toEqual([1, -2, 65504, 2 ** -24, 0.5, Infinity]);
      expect(source.get('ids')).toEqual({ name: 'ids', dtype: 'I64', shape: [2] });
      await expect(source.readFloat32('ids')).rejects.toThrow(/Expected a floating-point dtype for weight 'ids' but received I64/);
    } finally {
      await source.close();
    }
  });
});

describe('openSafetensors validation', () => {
  it('reports a truncated file naming the tensor and the byte sizes', async () => {
    const file = join(dir, 'truncated.safetensors');
    await copyFile(CAPTION_FILE, file);
    const source = await openSafetensors(CAPTION_FILE);
    const bytes = await readFile(CAPTION_FILE);
    await source.close();
    await truncate(file, bytes.length - 100);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      { data_offsets?: [number, number] }
    >;
    // The tensor whose data ends last is the one cut off.
    const [last] = Object.entries(header)
      .filter(([name]) => name !== '__metadata__')
      .sort(([, a], [, b]) => b.data_offsets![1] - a.data_offsets![1]);
    await expect(openSafetensors(file)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CHECKPOINT,
      message: expect.stringContaining(
        `${file}: file is truncated: tensor '${last[0]}' needs data bytes [${last[1].data_offsets![0]}, ` +
          `${last[1].data_offsets![1]}) (file size at least ${bytes.length} bytes) but the file has only ` +
          `${bytes.length - 100 - 8 - headerLength} data bytes (file size ${bytes.length - 100})`,
      ),
    });
  });

  const malformed: Array<[string, () => Promise<void>, RegExp]> = [
    [
      'a file shorter than the length field',
      () => writeFile(join(dir, 'case.safetensors'), Buffer.alloc(5)),
      /Expected at least 8 bytes .* but the file has 5/,
    ],
    [
      'an absurd header length',
      () => writeRawSafetensors(join(dir, 'case.safetensors'), '{}', new Uint8Array(0), 2n ** 40n),
      /Expected a safetensors header length of at most 100000000 bytes but received 1099511627776/,
    ],
    [
      'a header length beyond the end of the file',
      () => writeRawSafetensors(join(dir, 'case.safetensors'), '{}', new Uint8Array(0), 64n),
      /the header needs 64 bytes after the length field but the file has 2/,
    ],
    [
      'a header that is not JSON',
      () => writeRawSafetensors(join(dir, 'case.safetensors'), '{"a": ', new Uint8Array(0)),
      /header is not valid UTF-8 JSON/,
    ],
    [
      'a header that is a JSON array',
      () => writeRawSafetensors(join(dir, 'case.safetensors'), '[]', new Uint8Array(0)),
      /Expected a JSON object as the safetensors header but received \[\]/,
    ],
    [
      'an unknown dtype',
      () =>
        writeRawSafetensors(
          join(dir, 'case.safetensors'),
          '{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}',
          new Uint8Array(2),
        ),
      /for the dtype of tensor 'w' but received "F8_E4M3"/,
    ],
    [
      'a missing shape',
      () =>
        writeRawSafetensors(join(dir, 'case.safetensors'), '{"w":{"dtype":"F32","data_offsets":[0,4]}}', new Uint8Array(4)),
      /Expected an array of non-negative integers for the shape of tensor 'w' but received undefined/,
    ],
    [
      'a negative dimension',
      () =>
        writeRawSafetensors(
          join(dir, 'case.safetensors'),
          '{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}',
          new Uint8Array(4),
        ),
      /shape of tensor 'w' but received \[-1\]/,
    ],
    [
      'reversed data offsets',
      () =>
        writeRawSafetensors(
          join(dir, 'case.safetensors'),
          '{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}',
          new Uint8Array(4),
        ),
      /for the data_offsets of tensor 'w' but received \[4,0\]/,
    ],
    [
      'offsets that disagree with the shape',
      () =>
        writeRawSafetensors(
          join(dir, 'case.safetensors'),
          '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}',
          new Uint8Array(24),
        ),
      /tensor 'w' is F32 \[2,3\] = 24 bytes but its data_offsets \[0, 16\] span 16 bytes/,
    ],
  ];
  for (const [label, write, message] of malformed) {
    it(`rejects ${label}`, async () => {
      await write();
      const file = join(dir, 'case.safetensors');
      await expect(openSafetensors(file)).rejects.toMatchObject({
        code: ErrorCode.INVALID_CHECKPOINT,
        message: expect.stringMatching(message),
      });
      await expect(openSafetensors(file)).rejects.toThrow(new RegExp(`^${file}: `));
    });
  }

  it('names the file when it does not exist', async () => {
    const file = join(dir, 'missing.safetensors');
    await expect(openSafetensors(file)).rejects.toThrow(new RegExp(`^${file}: cannot open the weights file`));
  });
});

describe('openSafetensors is lazy', () => {
  it('opens a 2.5 GB file and reads one small tensor without loading the rest', async () => {
    const [tensor] = await fixtureTensors(1);
    const file = join(dir, 'sparse.safetensors');
    // The large tensor is declared but never written: the file is sparse and takes no disk space.
    const hugeElements = 640 * 1024 * 1024;
    await writeSafetensors(file, [
      { name: 'huge', dtype: 'F32', shape: [hugeElements], sparseSize: hugeElements * 4 },
      { name: 'small', dtype: 'F32', shape: tensor.shape, data: float32Bytes(tensor.values) },
    ]);
    const before = process.memoryUsage().rss;
    const source = await openSafetensors(file);
    try {
      expect(source.get('huge')).toEqual({ name: 'huge', dtype: 'F32', shape: [hugeElements] });
      expect(await source.readFloat32('small')).toEqual(tensor.values);
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    } finally {
      await source.close();
      await rm(file);
    }
  });
});
