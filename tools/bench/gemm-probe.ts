/**
 * The fp32 GEMM rate ONNX Runtime reaches on this machine: the best of MatMuls shaped like the vision MLP of a batch
 * of images (both directions) and a large square one, so that the vision encoder's GFLOP/s is compared with what the
 * cores can really do rather than with one shape that happens to suit MLAS less well.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GraphBuilder } from '../../src/onnx/graph-builder.ts';
import { WeightFile } from '../../src/onnx/weight-file.ts';
import { floatTensor, OnnxSession } from '../../src/runtime/onnx-session.ts';
import { randomArray } from './common.ts';

export async function measureGemm(quick: boolean, log: (message: string) => void): Promise<number> {
  let best = 0;
  for (const [m, k, n] of [
    [4 * 577, 768, 3072],
    [4 * 577, 3072, 768],
    [2048, 2048, 2048],
  ] as const) {
    best = Math.max(best, await measureMatMul(m, k, n, quick, log));
  }
  return best;
}

async function measureMatMul(m: number, k: number, n: number, quick: boolean, log: (message: string) => void): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'bench-gemm-'));
  try {
    const weights = new WeightFile(join(scratch, 'gemm.onnx.data'));
    const g = new GraphBuilder('gemm', weights);
    const x = g.input('x', 'float32', [m, k]);
    const w = g.floats('w', randomArray(k * n), [k, n]);
    g.output(g.node('MatMul', [x, w]), 'y', 'float32', [m, n]);
    weights.close();
    await writeFile(join(scratch, 'gemm.onnx'), g.encode('GEMM rate probe'));
    const session = await OnnxSession.load(join(scratch, 'gemm.onnx'));
    const feeds = { x: floatTensor(randomArray(m * k), [m, k]) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    // Best of several rounds: the rate the machine can reach, not what a noisy moment gave.
    let best = 0;
    for (let round = 0; round < (quick ? 3 : 5); round++) {
      const reps = 4;
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await session.run(feeds);
      const seconds = (performance.now() - t0) / 1000;
      best = Math.max(best, (2 * m * k * n * reps) / seconds / 1e9);
    }
    await session.release();
    log(`MatMul ${m}x${k}x${n}: ${best.toFixed(1)} GFLOP/s`);
    return best;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
