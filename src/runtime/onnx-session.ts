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
  /** How ONNX Runtime holds memory (see SessionMemoryOptions); kept apart from the loading and threading settings. */
  memory?: SessionMemoryOptions;
}

/**
 * ONNX Runtime's memory settings, chosen by measurement (docs/… in the memory note; `tools/bench/memory-probe.ts`).
 * The defaults (`DEFAULT_SESSION_MEMORY`) are what the serving process uses.
 */
export interface SessionMemoryOptions {
  /**
   * The CPU arena: ONNX Runtime's own allocator, which grows in power-of-two chunks and never returns memory to the
   * system, so one large vision batch keeps its peak for the life of the session. Off: every tensor is malloc'd and
   * freed, and glibc returns large blocks (mmap'd) at once.
   */
  cpuArena?: boolean;
  /** The memory pattern: one planned block per shape seen, kept for the next run of that shape. */
  memoryPattern?: boolean;
  /**
   * Prepacking: MatMul/Gemm kernels repack constant weights into their own layout at load. The packed copy is used
   * instead of the initializer, but the initializer stays allocated too unless the kernel releases it.
   */
  prepacking?: boolean;
}

export const DEFAULT_SESSION_MEMORY: Readonly<Required<SessionMemoryOptions>> = Object.freeze({ cpuArena: false, memoryPattern: false, prepacking: true });

/** The `InferenceSession.create` options of SessionMemoryOptions. */
function memorySessionOptions(options: SessionMemoryOptions = {}): { enableCpuMemArena: boolean; enableMemPattern: boolean; sessionConfig: Record<string, string> } {
  const { cpuArena, memoryPattern, prepacking } = { ...DEFAULT_SESSION_MEMORY, ...options };
  return { enableCpuMemArena: cpuArena, enableMemPattern: memoryPattern, sessionConfig: prepacking ? {} : { disable_prepacking: '1' } };
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

  static async load(file: string, options: SessionOptions = {}): Promise<OnnxSession> {
    try {
      const { sessionConfig, ...memory } = memorySessionOptions(options.memory);
      const intraOp = options.allowSpinning === undefined ? {} : { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } };
      const session = await ort.InferenceSession.create(file, {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        ...memory,
        ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
        extra: { session: { ...intraOp, ...sessionConfig } },
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
