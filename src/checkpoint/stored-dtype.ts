/**
 * Facts about stored element types and the one conversion every reader needs: raw little-endian bytes to float32.
 */
import { checkpointError } from '../errors.ts';
import type { StoredDType } from './weight-source.ts';

const BYTE_SIZES: Readonly<Record<StoredDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isStoredDType(value: unknown): value is StoredDType {
  return typeof value === 'string' && Object.hasOwn(BYTE_SIZES, value);
}

export function dtypeByteSize(dtype: StoredDType): number {
  return BYTE_SIZES[dtype];
}

export function isFloatDType(dtype: StoredDType): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Product of the dimensions; 1 for a scalar (empty shape). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** Reverses the byte order of every element in place (for checkpoints written on big-endian machines). */
export function swapByteOrder(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return;
  for (let start = 0; start + elementSize <= bytes.length; start += elementSize) {
    for (let low = start, high = start + elementSize - 1; low < high; low++, high--) {
      const byte = bytes[low];
      bytes[low] = bytes[high];
      bytes[high] = byte;
    }
  }
}

/**
 * Converts `bytes` (little-endian elements of `dtype`, length = a multiple of the element size) to float32.
 * When the dtype is already F32 and the bytes start at an aligned offset, the result shares their memory.
 */
export function decodeFloat32(bytes: Uint8Array, dtype: StoredDType, tensor: string, file: string): Float32Array {
  // Typed-array views use the host byte order; every platform Node ships for is little-endian, but say so if not.
  if (!HOST_IS_LITTLE_ENDIAN) throw checkpointError(file, 'reading weights needs a little-endian host');
  const count = bytes.length / dtypeByteSize(dtype);
  switch (dtype) {
    case 'F32':
      return bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer, bytes.byteOffset, count)
        : new Float32Array(bytes.slice().buffer, 0, count);
    case 'F64': {
      const source = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
      return Float32Array.from(new Float64Array(source.buffer, source.byteOffset, count));
    }
    case 'F16':
      return halfToFloat32(halfWords(bytes, count));
    case 'BF16': {
      // bfloat16 is the upper half of a float32, so widening is a 16-bit shift.
      const words = halfWords(bytes, count);
      const widened = new Uint32Array(count);
      for (let i = 0; i < count; i++) widened[i] = words[i] << 16;
      return new Float32Array(widened.buffer);
    }
    case 'I64':
    case 'I32':
    case 'I16':
    case 'I8':
    case 'U8':
    case 'BOOL':
      throw checkpointError(file, `Expected a floating-point dtype for weight '${tensor}' but received ${dtype}`);
  }
}

function halfWords(bytes: Uint8Array, count: number): Uint16Array {
  const source = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(source.buffer, source.byteOffset, count);
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | undefined;

/** IEEE half → float32 through a 64 K-entry table (256 KB, built on first use): exact and fast. */
function halfToFloat32(words: Uint16Array): Float32Array {
  halfTable ??= buildHalfTable();
  const table = halfTable;
  const out = new Float32Array(words.length);
  for (let i = 0; i < words.length; i++) out[i] = table[words[i]];
  return out;
}

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}
