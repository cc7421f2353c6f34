/**
 * Lazy reader for the safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor
 * name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the data section that follows the
 * header), and raw little-endian C-order tensor bytes. Only the header is read at open time.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { checkpointError } from '../errors.ts';
import { describeValue as describe, formatShape } from './describe-value.ts';
import { readFileRange } from './file-range.ts';
import { decodeFloat32, dtypeByteSize, elementCount, isStoredDType } from './stored-dtype.ts';
import { isCount, StoredTensorTable, type StoredDType, type WeightInfo, type WeightSource } from './weight-source.ts';

/** The reference implementation refuses headers above 100 MB; a larger length means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

interface StoredTensor extends WeightInfo {
  /** Absolute file offset of the first byte. */
  position: number;
  byteLength: number;
}

export async function openSafetensors(file: string): Promise<WeightSource> {
  const handle = await openFile(file);
  try {
    const tensors = await readHeader(handle, file);
    return new SafetensorsSource(file, handle, tensors);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

// Private: the WeightSource over an open file.
class SafetensorsSource extends StoredTensorTable<StoredTensor> implements WeightSource {
  readonly #handle: FileHandle;
  #closed = false;

  constructor(file: string, handle: FileHandle, tensors: Map<string, StoredTensor>) {
    super(file, tensors, 'file');
    this.#handle = handle;
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const tensor = this.stored(name);
    if (this.#closed) throw checkpointError(this.file, `cannot read '${name}': the file was closed`);
    const bytes = await readFileRange(this.#handle, tensor.position, tensor.byteLength);
    if (bytes.length < tensor.byteLength) {
      throw checkpointError(
        this.file,
        `file is truncated: tensor '${name}' needs ${tensor.byteLength} bytes at offset ${tensor.position} ` +
          `but only ${bytes.length} could be read`,
      );
    }
    return decodeFloat32(bytes, tensor.dtype, name, this.file);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}

// Private: open with an error that names the file.
async function openFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw checkpointError(file, `cannot open the weights file (${(error as Error).message})`, error);
  }
}

// Private: parse and validate the header against the file size.
async function readHeader(handle: FileHandle, file: string): Promise<Map<string, StoredTensor>> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < 8) {
    throw checkpointError(
      file,
      `Expected at least 8 bytes (the safetensors header length) but the file has ${fileSize}`,
    );
  }
  const lengthBytes = await readFileRange(handle, 0, 8);
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw checkpointError(
      file,
      `Expected a safetensors header length of at most ${MAX_HEADER_BYTES} bytes but received ${headerLength} ` +
        '(not a safetensors file?)',
    );
  }
  const headerBytes = Number(headerLength);
  const dataStart = 8 + headerBytes;
  if (dataStart > fileSize) {
    throw checkpointError(
      file,
      `file is truncated: the header needs ${headerBytes} bytes after the length field ` +
        `but the file has ${fileSize - 8}`,
    );
  }
  const header = parseHeaderJson(await readFileRange(handle, 8, headerBytes), file);
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, StoredTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, parseEntry(name, entry, dataStart, dataSize, file));
  }
  return tensors;
}

function parseHeaderJson(bytes: Uint8Array, file: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw checkpointError(file, `the safetensors header is not valid UTF-8 JSON (${(error as Error).message})`, error);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw checkpointError(file, `Expected a JSON object as the safetensors header but received ${describe(header)}`);
  }
  return header as Record<string, unknown>;
}

function parseEntry(name: string, entry: unknown, dataStart: number, dataSize: number, file: string): StoredTensor {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw checkpointError(
      file,
      `Expected an object for tensor '${name}' in the header but received ${describe(entry)}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isStoredDType(dtype)) {
    throw checkpointError(
      file,
      `Expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL for the dtype of tensor '${name}' ` +
        `but received ${describe(dtype)}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw checkpointError(
      file,
      `Expected an array of non-negative integers for the shape of tensor '${name}' but received ${describe(shape)}`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw checkpointError(
      file,
      `Expected [begin, end] with 0 <= begin <= end for the data_offsets of tensor '${name}' but received ` +
        describe(offsets),
    );
  }
  const [begin, end] = offsets as [number, number];
  const expectedBytes = elementCount(shape) * dtypeByteSize(dtype);
  if (end - begin !== expectedBytes) {
    throw checkpointError(
      file,
      `tensor '${name}' is ${dtype} ${formatShape(shape)} = ${expectedBytes} bytes but its data_offsets ` +
        `[${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  if (end > dataSize) {
    throw checkpointError(
      file,
      `file is truncated: tensor '${name}' needs data bytes [${begin}, ${end}) (file size at least ` +
        `${dataStart + end} bytes) but the file has only ${dataSize} data bytes (file size ${dataStart + dataSize})`,
    );
  }
  const position = dataStart + begin;
  return { name, dtype: dtype as StoredDType, shape: [...shape], position, byteLength: expectedBytes };
}

