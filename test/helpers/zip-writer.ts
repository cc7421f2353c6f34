/**
 * Test support: a minimal zip writer (stored or deflated entries, no zip64) for building torch checkpoints.
 * A `sparseSize` entry is declared but never written, which makes multi-GB archives that take no disk space.
 */
import { open } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';

export type ZipInput =
  | { name: string; data: Uint8Array; deflate?: boolean }
  | { name: string; sparseSize: number };

export async function writeZip(file: string, entries: readonly ZipInput[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let position = 0;
    const central: Buffer[] = [];
    for (const entry of entries) {
      const name = Buffer.from(entry.name, 'utf8');
      const stored = 'data' in entry ? (entry.deflate ? deflateRawSync(entry.data) : Buffer.from(entry.data)) : undefined;
      const size = 'data' in entry ? entry.data.length : entry.sparseSize;
      const compressedSize = stored?.length ?? size;
      const method = 'data' in entry && entry.deflate ? 8 : 0;
      const crc = 'data' in entry ? crc32(entry.data) : 0;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(0, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(0, 10);
      local.writeUInt16LE(0x21, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(compressedSize, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const headerOffset = position;
      await handle.write(Buffer.concat([local, name]), 0, 30 + name.length, position);
      position += 30 + name.length;
      if (stored !== undefined) await handle.write(stored, 0, stored.length, position);
      position += compressedSize;

      const record = Buffer.alloc(46);
      record.writeUInt32LE(0x02014b50, 0);
      record.writeUInt16LE(20, 4);
      record.writeUInt16LE(20, 6);
      record.writeUInt16LE(0, 8);
      record.writeUInt16LE(method, 10);
      record.writeUInt16LE(0, 12);
      record.writeUInt16LE(0x21, 14);
      record.writeUInt32LE(crc, 16);
      record.writeUInt32LE(compressedSize, 20);
      record.writeUInt32LE(size, 24);
      record.writeUInt16LE(name.length, 28);
      record.writeUInt32LE(headerOffset, 42);
      central.push(record, name);
    }
    const directory = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(position, 16);
    const tail = Buffer.concat([directory, end]);
    await handle.write(tail, 0, tail.length, position);
  } finally {
    await handle.close();
  }
}
