import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ErrorCode, ServiceError } from '../errors.ts';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

export interface SessionOptions {
  /**
   * Threads for one operator; defaults to the CPUs this process may use (DEFAULT_INTRA_OP_THREADS), never to ONNX
   * Runtime's own choice: on a 2-core VM that ran one thread's worth (CPU time equal to wall time), and int8 blip-base
   * took 8.2 s for 16 concurrent captions in-process against 4.0 s with 2 threads.
   */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op threads spin waiting for the next operator (ONNX Runtime's default: yes). Spinning saves
   * the wake-up of each small operator, but a spinning pool takes cores from every other worker on the machine.
   */
  allowSpinning?: boolean;
  /** How ONNX Runtime holds memory (see SessionMemoryOptions); kept apart from the loading and threading settings. */
  memory?: SessionMemoryOptions;
}

/**
 * ONNX Runtime's memory settings. The defaults (`DEFAULT_SESSION_MEMORY`) are what the serving process uses, chosen
 * with `tools/bench/memory-breakdown.ts` on blip-base (fp32, random weights).
 */
export interface SessionMemoryOptions {
  /**
   * The CPU arena: ONNX Runtime's own allocator, which keeps what it grew to for the life of the session: after one
   * vision pass of 8 images, blip-base held 580 MB more than it needed for decoding. Off: tensors are malloc'd and
   * freed (large blocks go back to the system with MALLOC_MMAP_THRESHOLD_, see the Dockerfile). A model family may turn
   * it on for a graph whose peak it bounds (BLIP's vision encoder: models/blip/runtime/graph-session-options.ts).
   */
  cpuArena?: boolean;
  /** The memory pattern: one planned block per shape seen, kept for the next run of that shape. */
  memoryPattern?: boolean;
  /**
   * Prepacking: MatMul/Gemm kernels repack constant weights into their own layout at load. It replaces the weights
   * (blip-base's RSS after loading is its weight files' bytes, no second copy) but turns the memory-mapped external
   * data into private memory and costs most of the session creation. Off: weights stay file-backed pages, and each
   * MatMul packs its weights at every run (not measured yet on a quiet machine, hence on).
   */
  prepacking?: boolean;
}

/** See SessionOptions.intraOpThreads. */
export const DEFAULT_INTRA_OP_THREADS = availableParallelism();

export const DEFAULT_SESSION_MEMORY: Readonly<Required<SessionMemoryOptions>> = Object.freeze({ cpuArena: false, memoryPattern: false, prepacking: true });

/** The `InferenceSession.create` options of SessionMemoryOptions. */
function memorySessionOptions(options: SessionMemoryOptions = {}): { enableCpuMemArena: boolean; enableMemPattern: boolean; sessionConfig: Record<string, string> } {
  const { cpuArena, memoryPattern, prepacking } = { ...DEFAULT_SESSION_MEMORY, ...options };
  return { enableCpuMemArena: cpuArena, enableMemPattern: memoryPattern, sessionConfig: prepacking ? {} : { disable_prepacking: '1' } };
}

/** The `InferenceSession.create` options of SessionOptions (exported for its test). */
export function sessionCreateOptions(options: SessionOptions, preOptimized: boolean): ort.InferenceSession.SessionOptions {
  const { sessionConfig, ...memory } = memorySessionOptions(options.memory);
  const intraOp = options.allowSpinning === undefined ? {} : { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } };
  return {
    graphOptimizationLevel: preOptimized ? 'disabled' : 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...memory,
    intraOpNumThreads: options.intraOpThreads ?? DEFAULT_INTRA_OP_THREADS,
    extra: { session: { ...intraOp, ...sessionConfig } },
  };
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
      const session = await ort.InferenceSession.create(file, sessionCreateOptions(options, preOptimized));
      return new OnnxSession(file, session);
    } catch (cause) {
      throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `cannot load ${file}: ${(cause as Error).message}`, { cause, details: { file } });
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
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
