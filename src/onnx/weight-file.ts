import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { createHash, type Hash } from 'node:crypto';

/** Where one initializer's bytes sit inside an external data file. */
export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

/**
 * Appends initializer bytes to an ONNX external data file, one tensor at a time, so that a model never has to hold all
 * of its weights in memory (and never hits protobuf's 2 GiB limit). Offsets are page aligned so that ONNX Runtime can
 * map them instead of copying.
 */
export class WeightFile {
  static readonly ALIGNMENT = 4096;

  readonly path: string;
  private fd: number;
  private size = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'w');
  }

  append(bytes: Uint8Array): ExternalLocation {
    const padding = (WeightFile.ALIGNMENT - (this.size % WeightFile.ALIGNMENT)) % WeightFile.ALIGNMENT;
    if (padding > 0) this.write(new Uint8Array(padding));
    const offset = this.size;
    this.write(bytes);
    return { location: basename(this.path), offset, length: bytes.byteLength };
  }

  get bytesWritten(): number {
    return this.size;
  }

  /** Closes the file and returns the sha256 of its content. */
  close(): { bytes: number; sha256: string } {
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    return { bytes: this.size, sha256: this.hash.digest('hex') };
  }

  private write(bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.byteLength) {
      written += writeSync(this.fd, bytes, written, bytes.byteLength - written);
    }
    this.hash.update(bytes);
    this.size += bytes.byteLength;
  }
}
