import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, ServiceError } from '../../../errors.ts';
import type { ImageLimits } from '../../../image/decode.ts';
import type { SessionOptions } from '../../../runtime/onnx-session.ts';
import { readManifest, type VariantManifest } from '../../../variant/manifest.ts';
import { BlipModel } from './blip-model.ts';
import { ServingEngine, type AdmissionPolicy, type EngineStats, type SubmitOptions } from '../engine/serving-engine.ts';
import type { AnswerItem, CaptionItem, ItemKind, ItemResult } from '../../../backend/items.ts';
import { BlipTokenizer } from './tokenizer.ts';

// Item and result types live in results.ts; they are re-exported here, where the rest of the server imports them.
export {
  CANCELLED_CODE,
  deserializeError,
  serializeError,
  type AnswerItem,
  type CaptionItem,
  type GenerationOutput,
  type ItemKind,
  type ItemResult,
  type SerializedError,
  type Timings,
} from '../../../backend/items.ts';
export type { AdmissionPolicy, EngineStats, SubmitOptions } from '../engine/serving-engine.ts';

export interface PipelineOptions extends SessionOptions {
  imageLimits: ImageLimits;
  /** Apply the EXIF orientation before preprocessing (what a person sees). */
  autoOrient?: boolean;
  /** Rows of the running decode batch, beams included (default 32); newcomers beyond it wait for rows to leave. */
  maxRows?: number;
  /** Newcomers encoded and admitted between two decode steps at most (default 8; see ServingEngine). */
  maxAdmitPerStep?: number;
  /** Bytes of image embeddings the worker keeps, least recently used evicted first (default 256 MiB; 0 = off). */
  embeddingCacheBytes?: number;
  /** When waiting requests join the running batch (default `adaptive`; see engine/admission.ts). */
  admission?: AdmissionPolicy;
}

export const DEFAULT_PIPELINE = {
  maxRows: 32,
  maxAdmitPerStep: 8,
  embeddingCacheBytes: 256 * 1024 * 1024,
  admission: 'adaptive',
} as const satisfies Partial<PipelineOptions>;

/**
 * Captioning and VQA on one variant, end to end: decode and preprocess images, run the encoders, generate, decode the
 * text. Runs inside an inference worker; requests go through its `ServingEngine`, which batches them continuously.
 */
export class BlipPipeline {
  private constructor(
    readonly manifest: VariantManifest,
    private readonly model: BlipModel,
    private readonly engine: ServingEngine,
  ) {}

  static async load(dir: string, options: PipelineOptions): Promise<BlipPipeline> {
    const manifest = await readManifest(dir);
    await checkFiles(dir, manifest);
    let tokenizer: BlipTokenizer;
    try {
      tokenizer = BlipTokenizer.fromJson(JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8')));
    } catch (cause) {
      throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `${join(dir, manifest.tokenizer.file)}: cannot load the tokenizer (${(cause as Error).message})`, { cause });
    }
    const model = await BlipModel.load(dir, manifest, options);
    try {
      const engine = new ServingEngine(manifest, model, tokenizer, {
        imageLimits: options.imageLimits,
        autoOrient: options.autoOrient ?? true,
        maxRows: options.maxRows ?? DEFAULT_PIPELINE.maxRows,
        maxAdmitPerStep: options.maxAdmitPerStep ?? DEFAULT_PIPELINE.maxAdmitPerStep,
        embeddingCacheBytes: options.embeddingCacheBytes ?? DEFAULT_PIPELINE.embeddingCacheBytes,
        admission: options.admission ?? DEFAULT_PIPELINE.admission,
      });
      return new BlipPipeline(manifest, model, engine);
    } catch (error) {
      await model.release();
      throw error;
    }
  }

  /** Captions every item (they share the engine with whatever else runs); a task mismatch rejects the call. */
  async caption(items: readonly CaptionItem[]): Promise<ItemResult[]> {
    this.requireTask('caption');
    return Promise.all(items.map((item) => this.engine.submit('caption', item)));
  }

  async answer(items: readonly AnswerItem[]): Promise<ItemResult[]> {
    this.requireTask('answer');
    return Promise.all(items.map((item) => this.engine.submit('answer', item)));
  }

  /** One request; resolves with its result, failures included (WRONG_TASK too). */
  submit(kind: ItemKind, item: CaptionItem | AnswerItem, options?: SubmitOptions): Promise<ItemResult> {
    return this.engine.submit(kind, item, options);
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  async release(): Promise<void> {
    this.engine.close();
    await this.model.release();
  }

  private requireTask(kind: ItemKind): void {
    const task = kind === 'caption' ? 'caption' : 'vqa';
    if (this.manifest.task !== task) {
      throw new ServiceError(ErrorCode.WRONG_TASK, `${this.manifest.name} is a ${this.manifest.task} model and cannot ${task === 'vqa' ? 'answer questions' : 'caption images'}`);
    }
  }
}

/** Refuses a variant whose files are missing or have a different size than the manifest says (a cheap integrity check). */
async function checkFiles(dir: string, manifest: VariantManifest): Promise<void> {
  for (const [file, expected] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new ServiceError(ErrorCode.MODEL_NOT_INSTALLED, `${path} is missing (listed in ${join(dir, 'manifest.json')})`, { details: { file: path } });
    }
    if (size !== expected.bytes) {
      throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `${path} has ${size} bytes but the manifest says ${expected.bytes}`, { details: { file: path } });
    }
  }
}
