/**
 * Strided tensor views as torch stores them (offsets and strides in elements): how much of a storage a view touches,
 * and copying a non-contiguous view into C order.
 */
import { elementCount } from './stored-dtype.ts';

/** Elements from the first to the last one a non-empty view touches, inclusive. */
export function viewSpan(shape: readonly number[], stride: readonly number[]): number {
  let span = 1;
  for (let axis = 0; axis < shape.length; axis++) span += (shape[axis] - 1) * stride[axis];
  return span;
}

export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && stride[axis] !== expected) return false;
    expected *= shape[axis];
  }
  return true;
}

/** Copies a strided view (strides relative to `source[0]`) into C order. */
export function gather(source: Float32Array, shape: readonly number[], stride: readonly number[]): Float32Array {
  const out = new Float32Array(elementCount(shape));
  const rank = shape.length;
  const innerSize = shape[rank - 1];
  const innerStride = stride[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let base = 0;
  for (let written = 0; written < out.length; written += innerSize) {
    for (let i = 0; i < innerSize; i++) out[written + i] = source[base + i * innerStride];
    // Odometer over the outer axes.
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]++;
      base += stride[axis];
      if (index[axis] < shape[axis]) break;
      base -= index[axis] * stride[axis];
      index[axis] = 0;
    }
  }
  return out;
}
