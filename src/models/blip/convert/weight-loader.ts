import type { WeightSource } from '../../../checkpoint/weight-source.ts';
import type { GraphBuilder } from '../../../onnx/graph-builder.ts';
import { checkpointError } from '../../../errors.ts';

export type ProgressListener = (event: { tensor: string; bytes: number }) => void;

/**
 * Reads checkpoint tensors one at a time and adds them to a graph as initializers, in the layout the graph wants
 * (Linear weights transposed to `[in, out]` for MatMul). Nothing is kept after it has been written to the weight file,
 * so peak memory stays around the largest single tensor.
 */
export class WeightLoader {
  private readonly aliases = new Map<string, string>();

  constructor(
    private readonly source: WeightSource,
    private readonly onProgress: ProgressListener = () => {},
  ) {}

  /** Reads `name` from `fallback` instead when the checkpoint does not store it (tied weights saved once). */
  alias(name: string, fallback: string): void {
    if (this.source.get(name) === undefined) this.aliases.set(name, fallback);
  }

  shape(name: string): number[] {
    const info = this.source.get(this.resolve(name));
    if (!info) throw checkpointError(this.source.file, `missing weight '${name}'`);
    return info.shape;
  }

  async read(name: string): Promise<Float32Array> {
    const resolved = this.resolve(name);
    const data = await this.source.readFloat32(resolved);
    this.onProgress({ tensor: resolved, bytes: data.byteLength });
    return data;
  }

  /** Adds the tensor as stored, with `dims` (defaults to its stored shape). */
  async tensor(g: GraphBuilder, name: string, dims: number[] = this.shape(name)): Promise<string> {
    return g.floats(name, await this.read(name), dims);
  }

  async vector(g: GraphBuilder, name: string): Promise<string> {
    return this.tensor(g, name);
  }

  /** Adds a `[out, in]` Linear weight as `[in, out]`, ready for `MatMul(x, W)`. */
  async transposed(g: GraphBuilder, name: string): Promise<string> {
    const [rows, cols] = this.shape(name);
    const data = await this.read(name);
    return g.floats(`${name}.T`, transpose2d(data, rows, cols), [cols, rows]);
  }

  private resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }
}

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  // Blocked so that both reads and writes stay within cache lines for large matrices.
  const block = 64;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(rows, r0 + block);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(cols, c0 + block);
      for (let r = r0; r < r1; r++) {
        const rowBase = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[rowBase + c];
      }
    }
  }
  return out;
}
