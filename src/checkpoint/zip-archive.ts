/**
 * Random access to the entries of a zip file: yauzl parses the central directory and the local headers; the bytes
 * of stored (uncompressed) entries are then read by position, so a slice of a 1 GB entry costs only that slice.
 * torch.save never compresses; deflated entries are still readable (streamed through yauzl and sliced).
 */
import { open, type FileHandle } from 'node:fs/promises';
import yauzl from 'yauzl';
import { checkpointError } from '../errors.ts';
import { readFileRange } from './file-range.ts';

export interface ZipEntryInfo {
  readonly name: string;
  /** Size of the entry's content once extracted. */
  readonly size: number;
}

export interface ZipArchive {
  readonly file: string;
  readonly entries: ReadonlyMap<string, ZipEntryInfo>;
  /** Bytes [start, end) of an entry's extracted content. */
  readRange(name: string, start: number, end: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openZipArchive(file: string): Promise<ZipArchive> {
  const zip = await openZipFile(file);
  try {
    const entries = await listEntries(zip, file);
    const handle = await open(file, 'r');
    return new YauzlArchive(file, zip, handle, entries);
  } catch (error) {
    zip.close();
    throw error;
  }
}

/** The part of yauzl 3's API that @types/yauzl 2 does not declare. */
interface LocalHeaderReader {
  readLocalFileHeader(
    entry: yauzl.Entry,
    options: { minimal: true },
    callback: (error: Error | null, header: { fileDataStart: number }) => void,
  ): void;
}

// Private: the archive over yauzl (directory, local headers, deflate) and a FileHandle (positional reads).
class YauzlArchive implements ZipArchive {
  readonly file: string;
  readonly entries: ReadonlyMap<string, ZipEntryInfo>;
  readonly #zip: yauzl.ZipFile;
  readonly #handle: FileHandle;
  readonly #raw: ReadonlyMap<string, yauzl.Entry>;
  readonly #dataStarts = new Map<string, Promise<number>>();
  #closed = false;

  constructor(file: string, zip: yauzl.ZipFile, handle: FileHandle, raw: Map<string, yauzl.Entry>) {
    this.file = file;
    this.#zip = zip;
    this.#handle = handle;
    this.#raw = raw;
    this.entries = new Map([...raw].map(([name, entry]) => [name, { name, size: entry.uncompressedSize }]));
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const entry = this.#raw.get(name);
    if (entry === undefined) throw checkpointError(this.file, `Expected a zip entry '${name}' but there is none`);
    if (this.#closed) throw checkpointError(this.file, `cannot read '${name}': the archive was closed`);
    if (!(start >= 0 && start <= end && end <= entry.uncompressedSize)) {
      throw checkpointError(
        this.file,
        `Expected a byte range within 0..${entry.uncompressedSize} of zip entry '${name}' ` +
          `but received ${start}..${end}`,
      );
    }
    if (entry.isEncrypted()) throw checkpointError(this.file, `zip entry '${name}' is encrypted`);
    if (entry.compressionMethod === 0) {
      const dataStart = await this.#dataStart(name, entry);
      const bytes = await readFileRange(this.#handle, dataStart + start, end - start);
      if (bytes.length !== end - start) {
        throw checkpointError(
          this.file,
          `file is truncated: zip entry '${name}' needs ${end - start} bytes at offset ${dataStart + start} ` +
            `but only ${bytes.length} could be read`,
        );
      }
      return bytes;
    }
    const whole = await this.#inflate(name, entry);
    return whole.subarray(start, end);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#zip.close();
    await this.#handle.close();
  }

  #dataStart(name: string, entry: yauzl.Entry): Promise<number> {
    let start = this.#dataStarts.get(name);
    if (start === undefined) {
      const reader = this.#zip as unknown as LocalHeaderReader;
      start = new Promise<number>((resolve, reject) => {
        reader.readLocalFileHeader(entry, { minimal: true }, (error, header) => {
          if (error) reject(checkpointError(this.file, `zip entry '${name}' is unreadable (${error.message})`, error));
          else resolve(header.fileDataStart);
        });
      });
      this.#dataStarts.set(name, start);
    }
    return start;
  }

  #inflate(name: string, entry: yauzl.Entry): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void =>
        reject(checkpointError(this.file, `zip entry '${name}' cannot be extracted (${error.message})`, error));
      this.#zip.openReadStream(entry, (error, stream) => {
        if (error) return fail(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', fail);
        stream.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      });
    });
  }
}

// Private: yauzl.open with errors that name the file.
function openZipFile(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: true }, (error, zip) => {
      if (error) {
        reject(checkpointError(file, `is not a readable zip archive: ${error.message} (truncated or corrupt?)`, error));
      } else {
        resolve(zip);
      }
    });
  });
}

// Private: read the central directory once.
function listEntries(zip: yauzl.ZipFile, file: string): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entries.has(entry.fileName)) {
        reject(checkpointError(file, `zip archive has two entries named '${entry.fileName}'`));
        return;
      }
      if (!entry.fileName.endsWith('/')) entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (error: Error) =>
      reject(checkpointError(file, `is not a readable zip archive: ${error.message} (truncated or corrupt?)`, error)),
    );
    zip.readEntry();
  });
}
