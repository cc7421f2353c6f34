/**
 * Lazy reader for PyTorch checkpoints in the zip format `torch.save` writes since 1.6 (`pytorch_model.bin`):
 *   <prefix>/data.pkl       a pickle of the state dict whose tensors point at storages by persistent id
 *   <prefix>/data/<key>     one raw little-endian storage per key
 *   <prefix>/byteorder      optional, "little" or "big"
 *   <prefix>/version, ...   ignored
 * The pickle is read with a restricted unpickler that only rebuilds tensors (see TorchPolicy); storages are read
 * lazily, one tensor at a time, and strided views come out contiguous.
 */
import { open } from 'node:fs/promises';
import { checkpointError } from '../errors.ts';
import { describeValue, formatShape } from './describe-value.ts';
import { unpickle } from './restricted-unpickler.ts';
import { PickleDict } from './pickle-values.ts';
import { decodeFloat32, dtypeByteSize, elementCount, isFloatDType, swapByteOrder } from './stored-dtype.ts';
import { gather, isContiguous, viewSpan } from './strided-view.ts';
import { describeKind, TensorRef, TorchPolicy } from './torch-pickle-policy.ts';
import { StoredTensorTable, type WeightInfo, type WeightSource } from './weight-source.ts';
import { openZipArchive, type ZipArchive } from './zip-archive.ts';

/** Refuse absurd pickles before reading them into memory; real state-dict pickles are well under 10 MB. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

export async function openTorchCheckpoint(file: string): Promise<WeightSource> {
  await rejectNonZip(file);
  const archive = await openZipArchive(file);
  try {
    const prefix = findPrefix(archive);
    const bigEndian = await readByteOrder(archive, prefix);
    const pickleEntry = archive.entries.get(`${prefix}data.pkl`)!;
    if (pickleEntry.size > MAX_PICKLE_BYTES) {
      throw checkpointError(
        file,
        `Expected ${pickleEntry.name} to be at most ${MAX_PICKLE_BYTES} bytes but it is ${pickleEntry.size}`,
      );
    }
    const pickle = await archive.readRange(pickleEntry.name, 0, pickleEntry.size);
    const root = unpickle(pickle, new TorchPolicy(archive, prefix), file, pickleEntry.name);
    const tensors = collectTensors(root, file);
    return new TorchSource(file, archive, tensors, bigEndian);
  } catch (error) {
    await archive.close();
    throw error;
  }
}

interface StoredTensor extends WeightInfo {
  readonly ref: TensorRef;
}

// Private: the WeightSource over an open archive.
class TorchSource extends StoredTensorTable<StoredTensor> implements WeightSource {
  readonly #archive: ZipArchive;
  readonly #bigEndian: boolean;

  constructor(file: string, archive: ZipArchive, tensors: ReadonlyMap<string, StoredTensor>, bigEndian: boolean) {
    super(file, tensors, 'checkpoint');
    this.#archive = archive;
    this.#bigEndian = bigEndian;
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const tensor = this.stored(name);
    const { storage, offset, shape, stride } = tensor.ref;
    if (!isFloatDType(storage.dtype)) {
      throw checkpointError(
        this.file,
        `Expected a floating-point dtype for weight '${name}' but received ${storage.dtype}`,
      );
    }
    const count = elementCount(shape);
    if (count === 0) return new Float32Array(0);
    // Read only the span of the storage this view touches, then gather if the view is strided.
    const span = viewSpan(shape, stride);
    const size = dtypeByteSize(storage.dtype);
    const bytes = await this.#archive.readRange(storage.entry, offset * size, (offset + span) * size);
    if (this.#bigEndian) swapByteOrder(bytes, size);
    const values = decodeFloat32(bytes, storage.dtype, name, this.file);
    return isContiguous(shape, stride) ? values : gather(values, shape, stride);
  }

  close(): Promise<void> {
    return this.#archive.close();
  }
}

// Private: a clear message for the formats this reader does not take.
async function rejectNonZip(file: string): Promise<void> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      head = Buffer.alloc(4);
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw checkpointError(file, `cannot open the weights file (${(error as Error).message})`, error);
  }
  // Before 1.6, torch.save wrote a bare pickle stream (it starts with PROTO 0x80, then the protocol number).
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) {
    throw checkpointError(
      file,
      'is a legacy (pre-1.6, non-zip) torch.save file, which is not supported: re-save it with a current PyTorch ' +
        '(torch.save(torch.load(path), path)) or convert it to model.safetensors',
    );
  }
  if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) {
    throw checkpointError(
      file,
      `Expected a zip archive (torch.save format) but the file starts with ${describeValue([...head])}`,
    );
  }
}

// Private: torch.save puts everything under one top-level folder named after the file.
function findPrefix(archive: ZipArchive): string {
  const pickles = [...archive.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw checkpointError(
      archive.file,
      pickles.length === 0
        ? 'Expected a <prefix>/data.pkl entry (torch.save zip format) but the archive has none'
        : `Expected one <prefix>/data.pkl entry but the archive has ${pickles.length}: ${pickles.join(', ')}`,
    );
  }
  return pickles[0].slice(0, -'data.pkl'.length);
}

async function readByteOrder(archive: ZipArchive, prefix: string): Promise<boolean> {
  const entry = archive.entries.get(`${prefix}byteorder`);
  if (entry === undefined) return false;
  const text = new TextDecoder().decode(await archive.readRange(entry.name, 0, Math.min(entry.size, 16))).trim();
  if (text !== 'little' && text !== 'big') {
    throw checkpointError(
      archive.file,
      `Expected "little" or "big" in ${entry.name} but received ${describeValue(text)}`,
    );
  }
  return text === 'big';
}

// Private: the pickle's root must be a flat name → tensor mapping whose views fit their storages.
function collectTensors(root: unknown, file: string): Map<string, StoredTensor> {
  if (!(root instanceof PickleDict)) {
    throw checkpointError(
      file,
      `Expected the pickle to hold a state dict (name → tensor) but it holds ${describeKind(root)}`,
    );
  }
  const tensors = new Map<string, StoredTensor>();
  for (const [name, value] of root.entries) {
    if (typeof name !== 'string') {
      throw checkpointError(file, `Expected string keys in the state dict but received ${describeValue(name)}`);
    }
    if (!(value instanceof TensorRef)) {
      throw checkpointError(
        file,
        `Expected a tensor for state dict entry '${name}' but received ${describeKind(value)}`,
      );
    }
    const count = elementCount(value.shape);
    const last = count === 0 ? 0 : value.offset + viewSpan(value.shape, value.stride);
    if (last > value.storage.numel) {
      throw checkpointError(
        file,
        `tensor '${name}' ${formatShape(value.shape)} (offset ${value.offset}, stride ${formatShape(value.stride)}) ` +
          `reads up to element ${last} of storage '${value.storage.key}', which holds ${value.storage.numel}`,
      );
    }
    tensors.set(name, { name, dtype: value.storage.dtype, shape: [...value.shape], ref: value });
  }
  return tensors;
}
