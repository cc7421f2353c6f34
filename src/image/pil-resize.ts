import { resizeRgbSimd, type AxisTaps } from './rgb-resample-simd.ts';

/**
 * Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit images, reproduced bit for bit (blip-spec.md §7.2; Pillow's
 * src/libImaging/Resample.c). BLIP's processor resizes with it, so any other bicubic (sharp/libvips, canvas, torch)
 * gives slightly different pixels and, through the vision model, different captions on near ties.
 *
 * Pillow's recipe: a separable convolution, horizontal pass first into an 8-bit intermediate image, then the vertical
 * pass; the kernel is widened by the downscale factor (antialiasing); weights are normalised in float64 and turned into
 * 22-bit fixed point; each sample is rounded and clamped back to 0..255 after each pass. An axis whose size does not
 * change is skipped.
 */

/** Fixed-point precision of the weights: 32 bits − 8 bits of sample − 2 bits of headroom, as Pillow uses. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
/** Added before the shift so that `>> PRECISION_BITS` rounds to nearest. */
const HALF = 1 << (PRECISION_BITS - 1);
/** Radius of the bicubic kernel at scale 1. */
const BICUBIC_SUPPORT = 2;
/** Keys' cubic parameter; Pillow uses −0.5 (Catmull-Rom-like), not −0.75 like OpenCV. */
const A = -0.5;

/**
 * Resizes an interleaved 8-bit image (`channels` samples per pixel, rows top to bottom) to `outWidth × outHeight`.
 * Every channel is filtered independently (no alpha premultiplication: the images here are RGB or grey).
 *
 * @throws RangeError when a size is not a positive integer or `src` does not hold `width × height × channels` bytes.
 */
export function resizeBicubicPil(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  checkDimension(width, 'width');
  checkDimension(height, 'height');
  checkDimension(channels, 'channels');
  checkDimension(outWidth, 'outWidth');
  checkDimension(outHeight, 'outHeight');
  if (src.length !== width * height * channels) {
    throw new RangeError(`Expected ${width * height * channels} bytes (${width}×${height}×${channels}) for src but received ${src.length}`);
  }
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  if (!needHorizontal && !needVertical) return src.slice();

  const vertical = axisWeights(height, outHeight);
  // Rows of the source that the vertical pass will read; the horizontal pass skips the others (Pillow does the same,
  // which only saves time: every row it would compute is fully determined by the source row).
  const firstRow = vertical.bounds[0];
  const lastRow = vertical.bounds[(outHeight - 1) * 2] + vertical.bounds[(outHeight - 1) * 2 + 1];
  const horizontal = needHorizontal ? axisWeights(width, outWidth) : null;

  // Three channels (every RGB resize) go through the WebAssembly SIMD kernels when the runtime has them.
  if (channels === 3) {
    const fast = resizeRgbSimd(src, {
      width,
      outWidth,
      outHeight,
      horizontal,
      vertical: needVertical ? vertical : null,
      firstRow,
      lastRow,
    });
    if (fast !== null) return fast;
  }

  let image = src;
  let rowOffset = 0;
  if (horizontal) {
    image = resampleRows(src, width, channels, firstRow, lastRow - firstRow, outWidth, horizontal);
    rowOffset = firstRow;
  }
  if (!needVertical) return image;
  return resampleColumns(image, horizontal ? outWidth : width, channels, rowOffset, outHeight, vertical);
}

// Private: Pillow's bicubic kernel, with its exact evaluation order (the float64 results feed a rounding step, so the
// order of operations matters at the last bit).
function bicubic(x: number): number {
  if (x < 0) x = -x;
  if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * A;
  return 0;
}

// Private: Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis, computed once per output index so that the
// passes are pure integer multiply-adds.
function axisWeights(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  // Pillow multiplies by the reciprocal rather than dividing by the scale; keep that for identical rounding.
  const inverseScale = 1 / filterScale;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const taps = new Float64Array(ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamps below make that equal to Pillow's.
    let first = Math.trunc(center - support + 0.5);
    if (first < 0) first = 0;
    let end = Math.trunc(center + support + 0.5);
    if (end > inSize) end = inSize;
    const count = end - first;
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const w = bicubic((k + first - center + 0.5) * inverseScale);
      taps[k] = w;
      sum += w;
    }
    const row = i * ksize;
    for (let k = 0; k < count; k++) {
      const w = sum !== 0 ? taps[k] / sum : taps[k];
      // Round half away from zero, then truncate, as Pillow's (int)(w * 2^22 ± 0.5).
      weights[row + k] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[i * 2] = first;
    bounds[i * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

// Private: the horizontal pass over `rows` source rows starting at `firstRow`.
function resampleRows(
  src: Uint8Array,
  width: number,
  channels: number,
  firstRow: number,
  rows: number,
  outWidth: number,
  axis: AxisTaps,
): Uint8Array {
  const { ksize, bounds, weights } = axis;
  const dst = new Uint8Array(rows * outWidth * channels);
  const inStride = width * channels;
  const outStride = outWidth * channels;
  for (let y = 0; y < rows; y++) {
    const inRow = (y + firstRow) * inStride;
    const outRow = y * outStride;
    for (let x = 0; x < outWidth; x++) {
      const first = bounds[x * 2];
      const count = bounds[x * 2 + 1];
      const w0 = x * ksize;
      const base = inRow + first * channels;
      const out = outRow + x * channels;
      for (let c = 0; c < channels; c++) {
        let acc = HALF;
        for (let k = 0, p = base + c; k < count; k++, p += channels) acc += src[p] * weights[w0 + k];
        dst[out + c] = clip8(acc);
      }
    }
  }
  return dst;
}

// Private: the vertical pass; output row y reads image rows `bounds[y].first - rowOffset …`.
function resampleColumns(
  image: Uint8Array,
  width: number,
  channels: number,
  rowOffset: number,
  outHeight: number,
  axis: AxisTaps,
): Uint8Array {
  const { ksize, bounds, weights } = axis;
  const stride = width * channels;
  const dst = new Uint8Array(outHeight * stride);
  for (let y = 0; y < outHeight; y++) {
    const first = bounds[y * 2] - rowOffset;
    const count = bounds[y * 2 + 1];
    const w0 = y * ksize;
    const outRow = y * stride;
    const inBase = first * stride;
    for (let i = 0; i < stride; i++) {
      let acc = HALF;
      for (let k = 0, p = inBase + i; k < count; k++, p += stride) acc += image[p] * weights[w0 + k];
      dst[outRow + i] = clip8(acc);
    }
  }
  return dst;
}

// Private: Pillow's clip8. Pillow accumulates in int32; the float64 sum here is exact, and `>>` first wraps it to int32
// exactly as C would (in practice it never leaves ±2^31: the weights of a window add up to about 2^22) and then is the
// arithmetic shift that floors.
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Private.
function checkDimension(value: number, name: string): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`Expected a positive integer for ${name} but received ${String(value)}`);
  }
}
