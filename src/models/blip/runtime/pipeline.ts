import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EventStream, resultOf } from '../../../backend/event-stream.ts';
import { itemSignal } from '../../../backend/item-signal.ts';
import type { AnswerItem, CaptionItem, ItemKind, ItemResult } from '../../../backend/items.ts';
import { ErrorCode, ServiceError } from '../../../errors.ts';
import { readManifest, type VariantManifest } from '../../../variant/manifest.ts';
import type { FamilyRuntime, RuntimeItem, RuntimeOptions } from '../../family.ts';
import type { AdmissionPolicy } from '../engine/admission.ts';
import { ServingEngine, type EngineStats } from '../engine/serving-engine.ts';
import { BlipModel } from './blip-model.ts';
import { BlipTokenizer } from './tokenizer.ts';
import { BLIP_MEMORY_DEFAULTS } from '../working-memory.ts';

export type { AdmissionPolicy } from '../engine/admission.ts';
export type { EngineStats } from '../engine/serving-engine.ts';

/** The runtime settings, as the registry passes them to every family (see models/family.ts). */
export type PipelineOptions = RuntimeOptions;

/** The settings that bound working memory come from BLIP_MEMORY_DEFAULTS (the bound and the runtime agree). */
export const DEFAULT_PIPELINE = {
  ...BLIP_MEMORY_DEFAULTS,
  admission: 'adaptive',
} as const satisfies Partial<PipelineOptions>;

/** Per-item controls of the in-process helpers (`submit`, `caption`, `answer`). */
export interface SubmitOptions {
  /** Epoch milliseconds; becomes the item's signal (the one deadline mechanism, see item-signal.ts). */
  deadline?: number;
  signal?: AbortSignal;
}

/**
 * BLIP's runtime for one variant, end to end: decode and preprocess images, run the encoders, generate, decode the
 * text. Runs inside an inference worker (as the family's FamilyRuntime); items go through its `ServingEngine`, which
 * batches them continuously. `submit`, `caption` and `answer` are in-process conveniences for tools and tests.
 */
export class BlipPipeline implements FamilyRuntime {
  private constructor(
    readonly manifest: VariantManifest,
    private readonly model: BlipModel,
    private readonly engine: ServingEngine,
  ) {}

  /** `onWarning`: what is worth a line in the log but does not stop the load (default: a process warning). */
  static async load(dir: string, options: PipelineOptions, onWarning?: (message: string) => void): Promise<BlipPipeline> {
    const manifest = await readManifest(dir);
    await checkFiles(dir, manifest);
    let tokenizer: BlipTokenizer;
    try {
      tokenizer = BlipTokenizer.fromJson(JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8')));
    } catch (cause) {
      throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `${join(dir, manifest.tokenizer.file)}: cannot load the tokenizer (${(cause as Error).message})`, { cause });
    }
    const model = await BlipModel.load(dir, manifest, options, onWarning);
    try {
      const engine = new ServingEngine(manifest, model, tokenizer, {
        imageLimits: options.imageLimits,
        autoOrient: options.autoOrient ?? true,
        maxRows: options.maxRows ?? DEFAULT_PIPELINE.maxRows,
        maxAdmitPerStep: options.maxAdmitPerStep ?? DEFAULT_PIPELINE.maxAdmitPerStep,
        maxVisionBatch: options.maxVisionBatch ?? DEFAULT_PIPELINE.maxVisionBatch,
        embeddingCacheBytes: options.embeddingCacheBytes ?? DEFAULT_PIPELINE.embeddingCacheBytes,
        admission: (options.admission ?? DEFAULT_PIPELINE.admission) as AdmissionPolicy,
      });
      return new BlipPipeline(manifest, model, engine);
    } catch (error) {
      await model.release();
      throw error;
    }
  }

  submitGroup(items: readonly RuntimeItem[]): void {
    this.engine.submitGroup(items);
  }

  /** Items submitted together (one encoder pass); one result per item, failures as values. */
  submitAll(items: ReadonlyArray<{ kind: ItemKind; item: CaptionItem | AnswerItem }>, options: SubmitOptions = {}): Array<Promise<ItemResult>> {
    const signals = items.map(() => (options.deadline === undefined ? undefined : itemSignal({ deadline: options.deadline, client: options.signal })));
    const streams = items.map(() => new EventStream());
    this.engine.submitGroup(
      items.map(({ kind, item }, i) => ({
        kind,
        item,
        signal: signals[i]?.signal ?? options.signal,
        emit: (event) => streams[i].push(event),
      })) as RuntimeItem[],
    );
    return streams.map((stream, i) => resultOf(stream).finally(() => signals[i]?.dispose()));
  }

  /** One item; resolves with its result, failures included. */
  submit(kind: ItemKind, item: CaptionItem | AnswerItem, options?: SubmitOptions): Promise<ItemResult> {
    return this.submitAll([{ kind, item }], options)[0];
  }

  caption(items: readonly CaptionItem[]): Promise<ItemResult[]> {
    return Promise.all(this.submitAll(items.map((item) => ({ kind: 'caption' as const, item }))));
  }

  answer(items: readonly AnswerItem[]): Promise<ItemResult[]> {
    return Promise.all(this.submitAll(items.map((item) => ({ kind: 'answer' as const, item }))));
  }

  stats(): EngineStats {
    return { ...this.engine.stats(), loadedFrom: this.model.loadedFrom };
  }

  async release(): Promise<void> {
    this.engine.close();
    await this.model.release();
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
