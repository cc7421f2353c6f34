import * as ort from 'onnxruntime-node';
import { ErrorCode, ServiceError } from '../errors.ts';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

export interface SessionOptions {
  /** Threads for one operator; defaults to ONNX Runtime's choice (the number of physical cores). */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op threads spin waiting for the next operator (ONNX Runtime's default: yes). Spinning saves
   * the wake-up of each small operator, but a spinning pool takes cores from every other worker on the machine.
   */
  allowSpinning?: boolean;
}

/**
 * A loaded ONNX graph. `run` is synchronous inside onnxruntime-node (microsoft/onnxruntime#19611), which is why these
 * sessions only ever live inside an inference worker thread, never on the server's event loop.
 */
export class OnnxSession {
  private constructor(
    readonly file: string,
    private readonly session: ort.InferenceSession,
  ) {}

  /**
   * `preOptimized`: `file` is a saved optimized graph (optimized-model.ts), loaded as it is: optimizing it again would
   * only repeat the work that was saved.
   */
  static async load(file: string, options: SessionOptions = {}, preOptimized = false): Promise<OnnxSession> {
    try {
      const session = await ort.InferenceSession.create(file, {
        graphOptimizationLevel: preOptimized ? 'disabled' : 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
        ...(options.allowSpinning === undefined ? {} : { extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } } }),
      });
      return new OnnxSession(file, session);
    } catch (cause) {
      throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `cannot load ${file}: ${(cause as Error).message}`, { cause, details: { file } });
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async run(feeds: Feeds): Promise<Outputs> {
    try {
      return await this.session.run(feeds);
    } catch (cause) {
      throw new ServiceError(ErrorCode.INFERENCE_FAILED, `inference failed in ${this.file}: ${(cause as Error).message}`, { cause });
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, dims);
}

export function floatData(tensor: ort.Tensor): Float32Array {
  if (tensor.type !== 'float32') throw new Error(`Expected a float32 tensor but received ${tensor.type}`);
  return tensor.data as Float32Array;
}
