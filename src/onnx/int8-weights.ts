/**
 * Symmetric int8 quantization of a MatMul weight `W [K, N]` (row-major, `y = x · W`), in the two layouts ONNX
 * Runtime's int8 kernels read. Symmetric (zero point 0, or 128 in unsigned storage) because the weights of a trained
 * transformer are centred on zero and a zero point would cost the kernels an extra correction term.
 */

export interface PerColumnInt8 {
  /** `[K, N]`, as the float weight: DynamicQuantizeMatMul / MatMulInteger's `B`. */
  values: Int8Array;
  /** `[N]`: one scale per output channel. */
  scales: Float32Array;
}

/** One scale per output channel (column of W): `W[k, n] ≈ values[k, n] · scales[n]`. */
export function quantizePerColumn(weight: Float32Array, K: number, N: number): PerColumnInt8 {
  checkSize(weight, K, N);
  const maxAbs = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) {
      const a = Math.abs(weight[row + n]);
      if (a > maxAbs[n]) maxAbs[n] = a;
    }
  }
  const scales = new Float32Array(N);
  const inverse = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    scales[n] = maxAbs[n] / 127;
    // An all-zero column keeps scale 0 and codes 0: it dequantizes to exact zeros.
    inverse[n] = maxAbs[n] > 0 ? 127 / maxAbs[n] : 0;
  }
  const values = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) values[row + n] = clampRound(weight[row + n] * inverse[n], -127, 127);
  }
  return { values, scales };
}

export interface BlockwiseInt8 {
  /** `[N, blocks, blockSize]` uint8 codes (value + 128), transposed to output-channel-major: MatMulNBits' `B`. */
  packed: Uint8Array;
  /** `[N, blocks]`. */
  scales: Float32Array;
  blocks: number;
}

/**
 * One scale per `blockSize` consecutive inputs of each output channel: `W[k, n] ≈ (packed[n, b, k mod bs] − 128) ·
 * scales[n, b]` with b = ⌊k / bs⌋. A K that is not a multiple of the block size is padded with zero codes (128).
 */
export function quantizeBlockwise(weight: Float32Array, K: number, N: number, blockSize: number): BlockwiseInt8 {
  checkSize(weight, K, N);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new RangeError(`Expected a power of two ≥ 16 for blockSize but received ${blockSize}`);
  }
  const blocks = Math.ceil(K / blockSize);
  const packed = new Uint8Array(N * blocks * blockSize).fill(128);
  const scales = new Float32Array(N * blocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let maxAbs = 0;
      for (let k = k0; k < k1; k++) maxAbs = Math.max(maxAbs, Math.abs(weight[k * N + n]));
      scales[n * blocks + b] = maxAbs / 127;
      const inverse = maxAbs > 0 ? 127 / maxAbs : 0;
      const base = (n * blocks + b) * blockSize - k0;
      for (let k = k0; k < k1; k++) packed[base + k] = 128 + clampRound(weight[k * N + n] * inverse, -127, 127);
    }
  }
  return { packed, scales, blocks };
}

function clampRound(value: number, min: number, max: number): number {
  // Round half away from zero, like numpy's quantizers do for symmetric weights.
  const r = value < 0 ? -Math.round(-value) : Math.round(value);
  return r < min ? min : r > max ? max : r;
}

function checkSize(weight: Float32Array, K: number, N: number): void {
  if (weight.length !== K * N) throw new RangeError(`Expected ${K}×${N} = ${K * N} weights but received ${weight.length}`);
}
