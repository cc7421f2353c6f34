/**
 * Test support: writes safetensors files (8-byte LE header length, JSON header, data), optionally with a raw
 * header so tests can build malformed files. `sparseSize` tensors are declared but never written.
 */
import { open } from 'node:fs/promises';
import type { StoredDType } from '../../src/checkpoint/weight-source.ts';

export type SafetensorsInput =
  | { name: string; dtype: StoredDType; shape: number[]; data: Uint8Array }
  | { name: string; dtype: StoredDType; shape: number[]; sparseSize: number };

export async function writeSafetensors(file: string, tensors: readonly SafetensorsInput[]): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const tensor of tensors) {
    const size = 'data' in tensor ? tensor.data.length : tensor.sparseSize;
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const headerBytes = padHeader(JSON.stringify(header));
  const handle = await open(file, 'w');
  try {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(headerBytes.length));
    await handle.write(Buffer.concat([prefix, headerBytes]), 0, 8 + headerBytes.length, 0);
    let position = 8 + headerBytes.length;
    for (const tensor of tensors) {
      if ('data' in tensor) await handle.write(tensor.data, 0, tensor.data.length, position);
      position += 'data' in tensor ? tensor.data.length : tensor.sparseSize;
    }
    await handle.truncate(position);
  } finally {
    await handle.close();
  }
}

/** A file whose header is `headerText` verbatim, followed by `data`. */
export async function writeRawSafetensors(file: string, headerText: string, data: Uint8Array, declaredLength?: bigint): Promise<void> {
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declaredLength ?? BigInt(headerBytes.length));
  const handle = await open(file, 'w');
  try {
    const all = Buffer.concat([prefix, headerBytes, data]);
    await handle.write(all, 0, all.length, 0);
  } finally {
    await handle.close();
  }
}

function padHeader(json: string): Buffer {
  const padded = json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  return Buffer.from(padded, 'utf8');
}

/** The bytes of a Float32Array (little-endian host). */
export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}
