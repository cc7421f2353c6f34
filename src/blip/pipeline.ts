import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErrorCode, ServiceError } from '../errors.ts';
import { decodeImage, type ImageLimits } from '../image/decode.ts';
import type { SessionOptions } from '../runtime/onnx-session.ts';
import { readManifest, type VariantManifest } from '../variant/manifest.ts';
import { BlipModel } from './blip-model.ts';
import type { CrossContext } from './cross-context.ts';
import { generate, planSearch, resolveGenerationOptions, type GenerationOptions, type GenerationRequest } from './generation/generate.ts';
import { toPixelValues } from './preprocess.ts';
import { BlipTokenizer } from './tokenizer.ts';

export interface CaptionItem {
  image: Uint8Array;
  prompt?: string;
  options?: GenerationOptions;
}

export interface AnswerItem {
  image: Uint8Array;
  question: string;
  options?: GenerationOptions;
}

export interface Timings {
  preprocessMs: number;
  encodeMs: number;
  decodeMs: number;
}

export interface GenerationOutput {
  text: string;
  /** What transformers' generate returns for the row: [DEC], the prompt, generated ids up to the first [SEP]. */
  sequence: number[];
  timings: Timings;
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** One result per item, in order: a failed item never fails the others. */
export type ItemResult = { ok: true; value: GenerationOutput } | { ok: false; error: SerializedError };

export interface PipelineOptions extends SessionOptions {
  imageLimits: ImageLimits;
  /** Apply the EXIF orientation before preprocessing (what a person sees). */
  autoOrient?: boolean;
}

const MAX_BEAMS = 16;

/**
 * Captioning and VQA on one variant, end to end: decode and preprocess images, run the encoders once for the whole
 * batch, generate every item's tokens together, and decode the text. Runs inside an inference worker.
 */
export class BlipPipeline {
  private constructor(
    readonly manifest: VariantManifest,
    private readonly model: BlipModel,
    private readonly tokenizer: BlipTokenizer,
    private readonly options: PipelineOptions,
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
    return new BlipPipeline(manifest, model, tokenizer, options);
  }

  async caption(items: readonly CaptionItem[]): Promise<ItemResult[]> {
    this.requireTask('caption');
    const { bos } = this.manifest.tokenizer.ids;
    return this.run(items, (item) => {
      // transformers: the processor's [CLS] prompt [SEP] becomes [DEC] prompt (first id replaced, last column dropped).
      const prompt = item.prompt === undefined || item.prompt === '' ? [bos] : [bos, ...this.tokenizer.encode(item.prompt).slice(1, -1)];
      return { prompt, question: undefined };
    });
  }

  async answer(items: readonly AnswerItem[]): Promise<ItemResult[]> {
    this.requireTask('vqa');
    const { bos } = this.manifest.tokenizer.ids;
    const maxQuestion = this.manifest.tokenizer.maxLength;
    return this.run(items, (item) => {
      if (typeof item.question !== 'string' || item.question.trim() === '') {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected a non-empty question');
      }
      // The question keeps [CLS] (transformers does not substitute [ENC]).
      const question = this.tokenizer.encode(item.question);
      if (question.length > maxQuestion) {
        throw new ServiceError(ErrorCode.QUESTION_TOO_LONG, `The question is ${question.length} tokens long; this model reads at most ${maxQuestion}`, {
          details: { tokens: question.length, maxTokens: maxQuestion },
        });
      }
      return { prompt: [bos], question };
    });
  }

  async release(): Promise<void> {
    await this.model.release();
  }

  private requireTask(task: 'caption' | 'vqa'): void {
    if (this.manifest.task !== task) {
      throw new ServiceError(ErrorCode.WRONG_TASK, `${this.manifest.name} is a ${this.manifest.task} model and cannot ${task === 'vqa' ? 'answer questions' : 'caption images'}`);
    }
  }

  private async run<T extends { image: Uint8Array; options?: GenerationOptions }>(
    items: readonly T[],
    prepare: (item: T) => { prompt: number[]; question: number[] | undefined },
  ): Promise<ItemResult[]> {
    const results: ItemResult[] = new Array(items.length);
    const t0 = performance.now();

    // 1. Per item: options, tokens and pixels. A bad item gets its error and leaves the batch.
    const live: Array<{ index: number; prompt: number[]; question: number[] | undefined; request: Omit<GenerationRequest, 'context'>; pixels: Float32Array }> = [];
    const pixelCount = 3 * this.manifest.preprocess.width * this.manifest.preprocess.height;
    for (let index = 0; index < items.length; index++) {
      try {
        const item = items[index];
        const { prompt, question } = prepare(item);
        const options = resolveGenerationOptions(item.options ?? {}, this.manifest.generation, { maxPositions: this.manifest.dims.maxPositions, maxBeams: MAX_BEAMS });
        const image = await decodeImage(item.image, this.options.imageLimits, { autoOrient: this.options.autoOrient ?? true });
        const pixels = toPixelValues([image], this.manifest.preprocess);
        if (pixels.length !== pixelCount) throw new Error(`preprocessing produced ${pixels.length} values, expected ${pixelCount}`);
        const { sep, pad } = this.manifest.tokenizer.ids;
        const request = { prompt, options, eosTokenId: sep, padTokenId: pad };
        // Validates prompt length against the position table now, so a bad item cannot fail the whole batch later.
        planSearch({ ...request, context: 0 }, this.manifest.dims.vocabSize);
        live.push({ index, prompt, question, pixels, request });
      } catch (error) {
        results[index] = { ok: false, error: serializeError(error) };
      }
    }
    if (live.length === 0) return results;
    const t1 = performance.now();

    // 2. Encoders, once for the whole batch.
    let contexts: CrossContext[];
    try {
      const batchPixels = new Float32Array(live.length * pixelCount);
      live.forEach((item, i) => batchPixels.set(item.pixels, i * pixelCount));
      const imageEmbeds = await this.model.encodeImages(batchPixels, live.length);
      if (live[0].question) {
        const questions = live.map((item) => item.question as number[]);
        const { states, paddedLength } = await this.model.encodeQuestions(imageEmbeds, questions);
        contexts = await this.model.crossContexts(states, live.length, paddedLength, questions.map((q) => q.length));
      } else {
        const tokens = this.model.imageTokens;
        contexts = await this.model.crossContexts(imageEmbeds, live.length, tokens, live.map(() => tokens));
      }
    } catch (error) {
      for (const item of live) results[item.index] = { ok: false, error: serializeError(error) };
      return results;
    }
    const t2 = performance.now();

    // 3. All rows decode together; each row's result equals decoding it alone.
    const decoder = this.model.createDecoder(contexts);
    try {
      const sequences = await generate(decoder, live.map((item, context) => ({ ...item.request, context })));
      const t3 = performance.now();
      const timings: Timings = { preprocessMs: t1 - t0, encodeMs: t2 - t1, decodeMs: t3 - t2 };
      live.forEach((item, i) => {
        results[item.index] = { ok: true, value: { text: this.tokenizer.decode(sequences[i], { skipSpecialTokens: true }), sequence: sequences[i], timings } };
      });
    } catch (error) {
      for (const item of live) results[item.index] = { ok: false, error: serializeError(error) };
    } finally {
      decoder.dispose();
    }
    return results;
  }
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ServiceError) return { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  const message = error instanceof Error ? error.message : String(error);
  return { code: ErrorCode.INFERENCE_FAILED, message };
}

export function deserializeError(error: SerializedError): ServiceError {
  return new ServiceError(error.code, error.message, { details: error.details });
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
