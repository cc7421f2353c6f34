/**
 * Both passes of pil-resize.ts for 3-channel images, as two small WebAssembly SIMD kernels.
 *
 * Why: shrinking a 4000×3000 photo to 384×384 takes ~160 million integer multiply-adds, about 150 ms as plain
 * JavaScript; with 128-bit lanes (all three channels of a pixel per operation horizontally, 16 bytes at a time
 * vertically) it runs several times faster. The arithmetic is the same int32 arithmetic as the JavaScript path
 * (wrapping multiply and add, arithmetic shift by 22, saturation to 0..255), so the output bytes are identical; the
 * tests check both paths against Pillow.
 *
 * The module is assembled here from its instructions (no build step, no dependency). It imports its memory. One Memory
 * is kept per thread and grown as needed, up to KEPT_MEMORY_BYTES: a fresh Memory per image was a fresh mapping (a
 * 10 GiB reservation) whose every touched page faulted in, and page faults are dear on the VMs we run on
 * (`tools/bench/memory-probe.ts` counts them per caption). A bigger call gets a Memory of its own, dropped afterwards. Bytes left from an earlier image are never read as input:
 * the kernels' over-reads only feed lanes whose results land in the padding.
 */

/** One axis of the resampling: output index i reads bounds[2i+1] inputs from bounds[2i] with ksize weights. */
export interface AxisTaps {
  ksize: number;
  bounds: Int32Array;
  weights: Int32Array;
}

/** What pil-resize.ts decided: which passes run, and which source rows the vertical pass reads. */
export interface RgbResizePlan {
  width: number;
  outWidth: number;
  outHeight: number;
  /** Null when the width does not change. */
  horizontal: AxisTaps | null;
  /** Null when the height does not change. */
  vertical: AxisTaps | null;
  /** Source rows [firstRow, lastRow) feed the vertical pass; its bounds count from row 0 of the source. */
  firstRow: number;
  lastRow: number;
}

const PAGE = 65536;
/** Source bytes copied into the module per horizontal call: a strip of rows that stays in cache. */
const STRIP_BYTES = 256 * 1024;
/** Kernels read up to 16 bytes from the last position they need and write up to 16 past the last output byte. */
const PADDING = 16;

type Kernel = (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
interface Kernels {
  horizontal: Kernel;
  vertical: Kernel;
}

let compiled: WebAssembly.Module | null | undefined;

/** Most bytes of Memory kept between calls: a 12-megapixel photo's resize to 384 × 384 needs about 5 MB. */
export const KEPT_MEMORY_BYTES = 16 * 1024 * 1024;
let kept: { memory: WebAssembly.Memory; kernels: Kernels } | undefined;

/** A Memory of at least `bytes` with the kernels bound to it: the kept one (grown) when it fits under the cap. */
function workspace(module: WebAssembly.Module, bytes: number): { heap: Uint8Array; kernels: Kernels } {
  const pages = Math.ceil(bytes / PAGE);
  const instantiate = (memory: WebAssembly.Memory) => ({ memory, kernels: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels });
  if (pages * PAGE > KEPT_MEMORY_BYTES) {
    const own = instantiate(new WebAssembly.Memory({ initial: pages }));
    return { heap: new Uint8Array(own.memory.buffer), kernels: own.kernels };
  }
  kept ??= instantiate(new WebAssembly.Memory({ initial: pages }));
  const have = kept.memory.buffer.byteLength / PAGE;
  if (have < pages) kept.memory.grow(pages - have);
  return { heap: new Uint8Array(kept.memory.buffer), kernels: kept.kernels };
}

/** Resizes interleaved RGB bytes according to `plan`; null when this runtime has no WebAssembly SIMD. */
export function resizeRgbSimd(src: Uint8Array, plan: RgbResizePlan): Uint8Array | null {
  const module = kernelModule();
  if (module === null) return null;
  const { width, outWidth, outHeight, horizontal, vertical, firstRow, lastRow } = plan;
  const inStride = width * 3;
  const rows = lastRow - firstRow;
  const midStride = (horizontal ? outWidth : width) * 3;

  // Memory layout: tap tables, one source strip, the intermediate image (rows × midStride), the output.
  let at = 0;
  const place = (bytes: number): number => {
    const start = at;
    at += Math.ceil(bytes / 16) * 16;
    return start;
  };
  const hWeightsAt = horizontal ? place(horizontal.weights.byteLength) : 0;
  const hBoundsAt = horizontal ? place(horizontal.bounds.byteLength) : 0;
  const vWeightsAt = vertical ? place(vertical.weights.byteLength) : 0;
  const vBoundsAt = vertical ? place(vertical.bounds.byteLength) : 0;
  const stripRows = Math.max(1, Math.floor(STRIP_BYTES / inStride));
  const stripAt = horizontal ? place(Math.min(stripRows, rows) * inStride + PADDING) : 0;
  const midAt = place(rows * midStride + PADDING);
  const outAt = vertical ? place(outHeight * midStride + PADDING) : 0;
  const { heap, kernels } = workspace(module, at);
  const copyInts = (values: Int32Array, offset: number): void => heap.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);

  if (horizontal) {
    copyInts(horizontal.weights, hWeightsAt);
    copyInts(horizontal.bounds, hBoundsAt);
    for (let row = firstRow; row < lastRow; row += stripRows) {
      const n = Math.min(stripRows, lastRow - row);
      heap.set(src.subarray(row * inStride, (row + n) * inStride), stripAt);
      const outRow = midAt + (row - firstRow) * midStride;
      kernels.horizontal(stripAt, outRow, n, inStride, outWidth, hBoundsAt, hWeightsAt, horizontal.ksize * 4);
    }
  } else {
    heap.set(src.subarray(firstRow * inStride, lastRow * inStride), midAt);
  }
  if (!vertical) return heap.slice(midAt, midAt + rows * midStride);
  copyInts(vertical.weights, vWeightsAt);
  copyInts(vertical.bounds, vBoundsAt);
  kernels.vertical(midAt, outAt, outHeight, midStride, vBoundsAt, vWeightsAt, vertical.ksize * 4, firstRow);
  return heap.slice(outAt, outAt + outHeight * midStride);
}

/** Whether this runtime runs the SIMD kernels (Node ≥ 16.4 does); otherwise pil-resize.ts uses plain JavaScript. */
export function hasSimdResampler(): boolean {
  return kernelModule() !== null;
}

// Private: compiles once; null when the engine rejects SIMD.
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

// #region WebAssembly encoding

const I32 = 0x7f;
const V128 = 0x7b;
const LOOP = [0x03, 0x40];
const BLOCK = [0x02, 0x40];
const END = [0x0b];
/** br_if to the innermost enclosing block or loop. */
const BR_IF_0 = [0x0d, 0];

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const name = (text: string): number[] => [...uleb(text.length), ...[...text].map((c) => c.charCodeAt(0))];
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
const get = (local: number): number[] => [0x20, ...uleb(local)];
const set = (local: number): number[] => [0x21, ...uleb(local)];
const tee = (local: number): number[] => [0x22, ...uleb(local)];
const i32Const = (value: number): number[] => [0x41, ...sleb(value)];
const I32_ADD = [0x6a];
const I32_SUB = [0x6b];
const I32_MUL = [0x6c];
const I32_LT_U = [0x49];
const I32_GE_U = [0x4f];
/** i32.load with a byte offset; alignment hint 0 because accesses may be unaligned. */
const i32Load = (offset: number): number[] => [0x28, 0, ...uleb(offset)];
const I32_STORE = [0x36, 0, 0];
const simd = (opcode: number, ...immediates: number[]): number[] => [0xfd, ...uleb(opcode), ...immediates];
const V128_LOAD = simd(0x00, 0, 0);
const V128_LOAD8X8_U = simd(0x02, 0, 0); // 8 bytes → 8 × u16
const V128_LOAD32_SPLAT = simd(0x09, 0, 0); // one i32 in 4 lanes
const V128_STORE = simd(0x0b, 0, 0);
const I32X4_SPLAT = simd(0x11);
const I32X4_EXTRACT_LANE_0 = simd(0x1b, 0);
const I8X16_NARROW_I16X8_U = simd(0x66); // saturates to 0..255, i.e. Pillow's clip8
const I16X8_NARROW_I32X4_S = simd(0x85);
const I16X8_EXTEND_LOW_I8X16_U = simd(0x89);
const I16X8_EXTEND_HIGH_I8X16_U = simd(0x8a);
const I32X4_EXTEND_LOW_I16X8_U = simd(0xa9);
const I32X4_EXTEND_HIGH_I16X8_U = simd(0xaa);
const I32X4_SHR_S = simd(0xac);
const I32X4_ADD = simd(0xae);
const I32X4_MUL = simd(0xb5);
const HALF = 1 << 21;
const SHIFT = 22;

/**
 * horizontal(src, dst, rows, inStride, outWidth, bounds, weights, ksizeBytes); output pixels are written one after
 * another from dst:
 *   for each row, for each output pixel x: acc = [2^21 × 4];
 *     for each tap k: acc += u8x4(pixel first(x) + k of the row) × splat(weight k)
 *     store the low 4 bytes of saturate_u8(acc >> 22) (the 4th is overwritten by the next pixel)
 */
function horizontalBody(): number[] {
  const [SRC, DST, ROWS, IN_STRIDE, OUT_WIDTH, BOUNDS, WEIGHTS, KSIZE_BYTES] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [Y, X, ROW, P, WP, W_END, OUT, ACC] = [8, 9, 10, 11, 12, 13, 14, 15];
  const entry = [...get(BOUNDS), ...get(X), ...i32Const(8), ...I32_MUL, ...I32_ADD];
  const code = [
    ...get(DST), ...set(OUT),
    ...i32Const(0), ...set(Y),
    ...LOOP, // rows
    ...get(SRC), ...get(Y), ...get(IN_STRIDE), ...I32_MUL, ...I32_ADD, ...set(ROW),
    ...i32Const(0), ...set(X),
    ...LOOP, // output pixels
    ...get(ROW), ...entry, ...i32Load(0), ...i32Const(3), ...I32_MUL, ...I32_ADD, ...set(P),
    ...get(WEIGHTS), ...get(X), ...get(KSIZE_BYTES), ...I32_MUL, ...I32_ADD, ...tee(WP),
    ...entry, ...i32Load(4), ...i32Const(4), ...I32_MUL, ...I32_ADD, ...set(W_END),
    ...i32Const(HALF), ...I32X4_SPLAT, ...set(ACC),
    ...BLOCK,
    ...get(WP), ...get(W_END), ...I32_GE_U, ...BR_IF_0,
    ...LOOP, // taps
    ...get(ACC),
    ...get(P), ...V128_LOAD8X8_U, ...I32X4_EXTEND_LOW_I16X8_U,
    ...get(WP), ...V128_LOAD32_SPLAT,
    ...I32X4_MUL, ...I32X4_ADD, ...set(ACC),
    ...get(P), ...i32Const(3), ...I32_ADD, ...set(P),
    ...get(WP), ...i32Const(4), ...I32_ADD, ...tee(WP),
    ...get(W_END), ...I32_LT_U, ...BR_IF_0,
    ...END, // taps
    ...END, // block
    ...get(OUT),
    ...get(ACC), ...i32Const(SHIFT), ...I32X4_SHR_S, ...tee(ACC), ...get(ACC), ...I16X8_NARROW_I32X4_S,
    ...tee(ACC), ...get(ACC), ...I8X16_NARROW_I16X8_U, ...I32X4_EXTRACT_LANE_0,
    ...I32_STORE,
    ...get(OUT), ...i32Const(3), ...I32_ADD, ...set(OUT),
    ...get(X), ...i32Const(1), ...I32_ADD, ...tee(X),
    ...get(OUT_WIDTH), ...I32_LT_U, ...BR_IF_0,
    ...END, // output pixels
    ...get(Y), ...i32Const(1), ...I32_ADD, ...tee(Y),
    ...get(ROWS), ...I32_LT_U, ...BR_IF_0,
    ...END, // rows
    ...END,
  ];
  return [...uleb(2), ...uleb(7), I32, ...uleb(1), V128, ...code];
}

/**
 * vertical(src, dst, outRows, stride, bounds, weights, ksizeBytes, rowOffset): for each output row y and each 16-byte
 * column chunk: acc[0..3] = 2^21; for each tap k: acc += u8x16(row first(y) − rowOffset + k, chunk) × splat(weight k);
 * store saturate_u8(acc >> 22). A row's last chunk may spill into the next row, which is written afterwards.
 */
function verticalBody(): number[] {
  const [SRC, DST, OUT_ROWS, STRIDE, BOUNDS, WEIGHTS, KSIZE_BYTES, ROW_OFFSET] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [Y, BASE, W_START, W_END, I, P, WP, OUT] = [8, 9, 10, 11, 12, 13, 14, 15];
  const [V, W, LO, HI, A0, A1, A2, A3] = [16, 17, 18, 19, 20, 21, 22, 23];
  const entry = [...get(BOUNDS), ...get(Y), ...i32Const(8), ...I32_MUL, ...I32_ADD];
  const accumulate = (acc: number, half: number, extend: number[]): number[] => [
    ...get(acc), ...get(half), ...extend, ...get(W), ...I32X4_MUL, ...I32X4_ADD, ...set(acc),
  ];
  const shifted = (acc: number): number[] => [...get(acc), ...i32Const(SHIFT), ...I32X4_SHR_S];
  const code = [
    ...get(DST), ...set(OUT),
    ...i32Const(0), ...set(Y),
    ...LOOP, // output rows
    ...get(SRC), ...entry, ...i32Load(0), ...get(ROW_OFFSET), ...I32_SUB, ...get(STRIDE), ...I32_MUL, ...I32_ADD, ...set(BASE),
    ...get(WEIGHTS), ...get(Y), ...get(KSIZE_BYTES), ...I32_MUL, ...I32_ADD, ...tee(W_START),
    ...entry, ...i32Load(4), ...i32Const(4), ...I32_MUL, ...I32_ADD, ...set(W_END),
    ...i32Const(0), ...set(I),
    ...LOOP, // 16-byte chunks
    ...i32Const(HALF), ...I32X4_SPLAT, ...tee(A0), ...tee(A1), ...tee(A2), ...set(A3),
    ...get(BASE), ...get(I), ...I32_ADD, ...set(P),
    ...get(W_START), ...set(WP),
    ...BLOCK,
    ...get(WP), ...get(W_END), ...I32_GE_U, ...BR_IF_0,
    ...LOOP, // taps
    ...get(P), ...V128_LOAD, ...tee(V), ...I16X8_EXTEND_LOW_I8X16_U, ...set(LO),
    ...get(V), ...I16X8_EXTEND_HIGH_I8X16_U, ...set(HI),
    ...get(WP), ...V128_LOAD32_SPLAT, ...set(W),
    ...accumulate(A0, LO, I32X4_EXTEND_LOW_I16X8_U),
    ...accumulate(A1, LO, I32X4_EXTEND_HIGH_I16X8_U),
    ...accumulate(A2, HI, I32X4_EXTEND_LOW_I16X8_U),
    ...accumulate(A3, HI, I32X4_EXTEND_HIGH_I16X8_U),
    ...get(P), ...get(STRIDE), ...I32_ADD, ...set(P),
    ...get(WP), ...i32Const(4), ...I32_ADD, ...tee(WP),
    ...get(W_END), ...I32_LT_U, ...BR_IF_0,
    ...END, // taps
    ...END, // block
    ...get(OUT), ...get(I), ...I32_ADD,
    ...shifted(A0), ...shifted(A1), ...I16X8_NARROW_I32X4_S,
    ...shifted(A2), ...shifted(A3), ...I16X8_NARROW_I32X4_S,
    ...I8X16_NARROW_I16X8_U,
    ...V128_STORE,
    ...get(I), ...i32Const(16), ...I32_ADD, ...tee(I),
    ...get(STRIDE), ...I32_LT_U, ...BR_IF_0,
    ...END, // chunks
    ...get(OUT), ...get(STRIDE), ...I32_ADD, ...set(OUT),
    ...get(Y), ...i32Const(1), ...I32_ADD, ...tee(Y),
    ...get(OUT_ROWS), ...I32_LT_U, ...BR_IF_0,
    ...END, // output rows
    ...END,
  ];
  return [...uleb(2), ...uleb(8), I32, ...uleb(8), V128, ...code];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const eightInts = [0x60, ...uleb(8), ...Array<number>(8).fill(I32), 0];
  const bodies = [horizontalBody(), verticalBody()];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [...uleb(1), ...eightInts]),
    ...section(2, [...uleb(1), ...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(0)]),
    ...section(3, [...uleb(2), ...uleb(0), ...uleb(0)]),
    ...section(7, [...uleb(2), ...name('horizontal'), 0x00, ...uleb(0), ...name('vertical'), 0x00, ...uleb(1)]),
    ...section(10, [...uleb(2), ...bodies.flatMap((body) => [...uleb(body.length), ...body])]),
  ]);
}

// #endregion
