import { performance } from 'node:perf_hooks';
import { ErrorCode, ServiceError } from '../../../errors.ts';
import { decodeImage, type ImageLimits } from '../../../image/decode.ts';
import type { VariantManifest } from '../../../variant/manifest.ts';
import type { BlipModel } from '../runtime/blip-model.ts';
import type { CrossContext } from '../runtime/cross-context.ts';
import { GenerationSession, planSearch, resolveGenerationOptions, type GenerationRequest } from '../../../generation/generate.ts';
import type { OnnxTokenDecoder } from '../runtime/onnx-token-decoder.ts';
import { toPixelValues } from '../runtime/preprocess.ts';
import {
  cancelledError,
  deadlineError,
  serializeError,
  type AnswerItem,
  type CaptionItem,
  type ItemKind,
  type ItemResult,
  type RequestStage,
  type SerializedError,
} from '../../../backend/items.ts';
import type { BlipTokenizer } from '../runtime/tokenizer.ts';
import { ADMISSION_POLICIES, admissionCount, CostEstimates, type AdmissionPolicy } from './admission.ts';
import { EmbeddingCache, type EmbeddingCacheStats } from './embedding-cache.ts';

export type { AdmissionPolicy } from './admission.ts';

export interface EngineOptions {
  imageLimits: ImageLimits;
  /** Apply the EXIF orientation before preprocessing. */
  autoOrient: boolean;
  /** Decoder rows of the running batch, beams included: a request takes `numBeams` rows. */
  maxRows: number;
  /** Requests encoded and admitted between two decode steps, at most. */
  maxAdmitPerStep: number;
  /** Bytes of image embeddings the cache keeps (0 disables it). */
  embeddingCacheBytes: number;
  admission: AdmissionPolicy;
}

export interface SubmitOptions {
  /** Epoch milliseconds; past it the request fails with DEADLINE_EXCEEDED (checked at admission and between steps). */
  deadline?: number;
  /** Aborting it makes the request leave at the next step and fail with CANCELLED_CODE. */
  signal?: AbortSignal;
}

export interface EngineStats {
  cache: EmbeddingCacheStats;
  /** Requests waiting for admission. */
  queued: number;
  /** Requests in the running batch. */
  running: number;
  /** Decoder rows fed by the last decode step. */
  rows: number;
  /** What the admission policy currently estimates a pass costs. */
  estimates: { visionMsPerImage: number; contextMsPerRequest: number; stepMs: number };
}

export const MAX_BEAMS = 16;

interface Job {
  kind: ItemKind;
  item: CaptionItem | AnswerItem;
  deadline: number | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  resolve: (result: ItemResult) => void;
  stage: RequestStage;
  done: boolean;
  /** What the decoder needs, but the encoder context. */
  request: Omit<GenerationRequest, 'context'>;
  numBeams: number;
  /** Tokens it may generate at most, and decode steps it took part in so far. */
  maxNewTokens: number;
  steps: number;
  /** VQA: the question's tokens. */
  question: number[] | undefined;
  imageKey: string;
  /** Key of the context in `ServingEngine.contexts`. */
  contextKey: string | undefined;
  /** Whether the request counts in its context's `refs`. */
  attached: boolean;
  cacheHit: boolean;
  arrivedAt: number;
  admittedAt: number;
  preprocessMs: number;
  encodeMs: number;
  decodeStartedAt: number;
  batchSize: number;
}

/**
 * The serving engine of one variant, inside its inference worker: a queue of requests and ONE running decode batch
 * (continuous batching). Between two decode steps it admits waiting requests: decodes and preprocesses their images,
 * runs the vision encoder (or takes the embedding from the cache), the question encoder and cross K/V in one batched
 * pass for the newcomers, and merges their prompts into the next decoder call (`GenerationSession`). Finished,
 * cancelled and expired requests leave between steps. Every request gets exactly the tokens it gets alone.
 *
 * Admission (engine/admission.ts), chosen on measurements with blip-base, random weights, 20 tokens per caption, on
 * this project's 2-core machine with nothing else running (`npm run bench:admission`, `npm run bench`):
 *   - parts of a caption: vision encoder 355–400 ms per image at batch 1 and 411 ms per image at batch 8 (batching
 *     does not help it on CPU: it already runs at GEMM speed), cross K/V 67–70 ms per image, decode step 21 ms at 1
 *     row, 46 at 8, 71 at 16, 128 at 32. Rows share a step almost for free, but one admitted image stalls the running
 *     rows for ~10 steps;
 *   - mean / max latency and makespan in seconds, 16 captions:
 *       arriving 200 ms apart:    adaptive 5.1 / 8.5 / 10.7, eager 7.4 / 9.5 / 9.8, drain 5.7 / 8.3 / 11.4;
 *       arriving at once:         adaptive 8.3 / 11.1 / 11.1, eager 10.7 / 10.7 / 10.7, drain 8.1 / 10.8 / 10.8;
 *       4 pictures, 300 ms apart: adaptive 1.7 / 3.5 / 5.2, eager 1.8 / 3.6 / 5.2, drain 2.1 / 2.8 / 5.9.
 *     `eager` finishes a stream ~9 % sooner (wider decode batches) but makes the average request wait 40 % longer;
 *     `adaptive` has the lowest or near-lowest mean latency everywhere and behaves like `eager` when encodes are cheap.
 * Hence the default: `adaptive`, at most `maxAdmitPerStep` = 8 newcomers per step boundary (one encoder pass), FIFO
 * within `maxRows` (a request that does not fit stops admission: wide beam requests do not starve).
 */
export class ServingEngine {
  private readonly cache: EmbeddingCache;
  private readonly estimates = new CostEstimates();
  private decoder: OnnxTokenDecoder;
  private session: GenerationSession<Job>;
  private readonly queue: Job[] = [];
  /** Requests taken from the queue for the encoder pass under way. */
  private readonly admitting = new Set<Job>();
  private readonly running = new Set<Job>();
  /** Cross-attention contexts in the decoder: by image key (captions share them) or per request (VQA). */
  private readonly contexts = new Map<string, { id: number; refs: number }>();
  private nextQuestionContext = 0;
  private looping = false;
  private closed = false;

  constructor(
    readonly manifest: VariantManifest,
    private readonly model: BlipModel,
    private readonly tokenizer: BlipTokenizer,
    private readonly options: EngineOptions,
  ) {
    checkPositiveInteger(options.maxRows, 'maxRows');
    checkPositiveInteger(options.maxAdmitPerStep, 'maxAdmitPerStep');
    if (!Number.isSafeInteger(options.embeddingCacheBytes) || options.embeddingCacheBytes < 0) {
      throw new TypeError(`Expected a non-negative integer for embeddingCacheBytes but received ${options.embeddingCacheBytes}`);
    }
    if (!ADMISSION_POLICIES.includes(options.admission)) {
      throw new TypeError(`Expected one of ${ADMISSION_POLICIES.join(', ')} for admission but received ${JSON.stringify(options.admission)}`);
    }
    const visionWeights = manifest.files[`${manifest.graphs.vision}.data`] ?? manifest.files[manifest.graphs.vision];
    this.cache = new EmbeddingCache(options.embeddingCacheBytes, {
      weights: visionWeights?.sha256 ?? manifest.name,
      preprocess: manifest.preprocess,
      autoOrient: options.autoOrient,
    });
    this.decoder = model.createDecoder([], { capacityHint: options.maxRows });
    this.session = new GenerationSession<Job>(this.decoder);
  }

  /**
   * Queues one request; resolves with its result (never rejects: failures are `{ ok: false }` results). The text,
   * options and task are checked at once; the image when the request is admitted.
   */
  submit(kind: ItemKind, item: CaptionItem | AnswerItem, options: SubmitOptions = {}): Promise<ItemResult> {
    if (this.closed) return Promise.resolve({ ok: false, error: { code: ErrorCode.INFERENCE_FAILED, message: 'The inference engine is shut down' } });
    if (options.signal?.aborted) return Promise.resolve({ ok: false, error: cancelledError('queue') });
    let planned: Pick<Job, 'request' | 'numBeams' | 'maxNewTokens' | 'question'>;
    try {
      planned = this.plan(kind, item);
    } catch (error) {
      return Promise.resolve({ ok: false, error: serializeError(error) });
    }
    return new Promise<ItemResult>((resolve) => {
      const job: Job = {
        kind,
        item,
        deadline: options.deadline,
        signal: options.signal,
        onAbort: undefined,
        resolve,
        stage: 'queue',
        done: false,
        ...planned,
        steps: 0,
        imageKey: '',
        contextKey: undefined,
        attached: false,
        cacheHit: false,
        arrivedAt: performance.now(),
        admittedAt: 0,
        preprocessMs: 0,
        encodeMs: 0,
        decodeStartedAt: 0,
        batchSize: 0,
      };
      if (options.signal) {
        job.onAbort = () => this.fail(job, cancelledError(job.stage));
        options.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.kick();
    });
  }

  stats(): EngineStats {
    const { visionMs, contextMs, stepMs } = this.estimates;
    return {
      cache: this.cache.stats(),
      queued: this.queue.length,
      running: this.running.size,
      rows: this.session.size > 0 ? this.session.lastRows : 0,
      estimates: { visionMsPerImage: visionMs, contextMsPerRequest: contextMs, stepMs },
    };
  }

  /** Fails every request and frees the decoder; later submissions fail. */
  close(): void {
    this.closed = true;
    this.failAll({ code: ErrorCode.INFERENCE_FAILED, message: 'The inference engine is shut down' });
    this.decoder.dispose();
  }

  // #region the loop

  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    void this.loop()
      .catch((error: unknown) => {
        // Not expected (every pass handles its own failures), but no request may hang on a broken loop.
        this.failAll(serializeError(error));
        this.resetDecoder();
      })
      .finally(() => {
        this.looping = false;
        if (!this.closed && (this.queue.length > 0 || this.session.size > 0)) this.kick();
      });
  }

  /** One iteration per decode step: receive messages, drop expired requests, finish, admit, decode. */
  private async loop(): Promise<void> {
    while (!this.closed && (this.queue.length > 0 || this.session.size > 0)) {
      // New requests and cancellations arrive as messages: let them in between steps.
      await new Promise((resolve) => setImmediate(resolve));
      this.expire(Date.now());
      for (const { key, sequence } of this.session.advance()) this.complete(key, sequence);
      // An idle engine holds no batch buffers (a base-size batch holds 42.5 MB of cross-attention inputs per row).
      if (this.session.size === 0 && this.queue.length === 0) this.decoder.clear();
      await this.admit();
      await this.decodeStep();
    }
  }

  private expire(now: number): void {
    for (const job of [...this.queue, ...this.running]) {
      if (job.deadline !== undefined && now >= job.deadline) this.fail(job, deadlineError(job.deadline, job.stage));
    }
  }

  /** Picks the newcomers of this step boundary (see admission.ts) and runs their encoder pass. */
  private async admit(): Promise<void> {
    let room = this.options.maxRows - this.session.reservedRows;
    let candidates = 0;
    while (candidates < Math.min(this.queue.length, this.options.maxAdmitPerStep)) {
      const rows = this.queue[candidates].numBeams;
      // A request wider than the whole batch runs when it is alone.
      if (rows > room && (this.session.size > 0 || candidates > 0)) break;
      room -= rows;
      candidates++;
    }
    if (candidates === 0) return;
    const count = admissionCount(this.options.admission, {
      running: this.running.size,
      drainMs: this.drainMs(),
      encodeMs: this.running.size > 0 ? this.encodeEstimates(this.queue.slice(0, candidates)) : [],
    });
    const picked = this.queue.splice(0, this.running.size > 0 ? count : candidates);
    if (picked.length === 0) return;
    const admittedAt = performance.now();
    for (const job of picked) {
      job.admittedAt = admittedAt;
      job.stage = 'encode';
      this.admitting.add(job);
    }
    try {
      await this.encode(picked);
    } finally {
      for (const job of picked) this.admitting.delete(job);
    }
  }

  /** Estimated time until every running request has generated all the tokens it may generate. */
  private drainMs(): number {
    let steps = 0;
    for (const job of this.running) steps = Math.max(steps, job.maxNewTokens - job.steps);
    return steps * this.estimates.stepMs;
  }

  /** Estimated encoder time of each candidate: no vision pass for a cached (or repeated) image, no context pass for a caption of an image being captioned. */
  private encodeEstimates(candidates: readonly Job[]): number[] {
    const seen = new Set<string>();
    return candidates.map((job) => {
      const key = this.imageKeyOf(job);
      const shared = job.kind === 'caption' && (this.contexts.has(key) || seen.has(key));
      const vision = shared || this.cache.has(key) || seen.has(key) ? 0 : this.estimates.visionMs;
      seen.add(key);
      return vision + (shared ? 0 : this.estimates.contextMs);
    });
  }

  private imageKeyOf(job: Job): string {
    if (job.imageKey === '') job.imageKey = this.cache.keyOf(job.item.image);
    return job.imageKey;
  }

  /** The newcomers' preprocessing and encoder pass, batched among them; they join the session at the next decode. */
  private async encode(picked: Job[]): Promise<void> {
    let created: Array<{ key: string; context: CrossContext }>;
    let encodeStartedAt = performance.now();
    try {
      const pixels = await this.preprocess(picked);
      encodeStartedAt = performance.now();
      const embeddings = await this.imageEmbeddings(picked, pixels);
      created = await this.crossContexts(picked, embeddings);
    } catch (error) {
      for (const job of picked) this.fail(job, serializeError(error));
      return;
    }
    for (const { key, context } of created) this.contexts.set(key, { id: this.decoder.addContext(context), refs: 0 });
    for (const job of picked) if (!job.done && !job.attached) this.attach(job);
    // Contexts made for requests that were cancelled meanwhile.
    for (const { key } of created) this.releaseIfUnused(key);
    const encodeMs = performance.now() - encodeStartedAt;
    const now = Date.now();
    for (const job of picked) {
      job.encodeMs = encodeMs;
      if (job.done) continue;
      if (job.deadline !== undefined && now >= job.deadline) {
        this.fail(job, deadlineError(job.deadline, job.stage));
        continue;
      }
      const context = this.contexts.get(job.contextKey as string) as { id: number };
      this.session.add(job, { ...job.request, context: context.id });
      this.running.add(job);
      job.stage = 'decode';
      job.decodeStartedAt = performance.now();
    }
  }

  /**
   * Pixels of the images of `picked` that the vision encoder must see, by image key: an image whose embedding is
   * cached, or whose caption context a running request holds, is not even decoded; one image shared by several
   * newcomers is decoded once. A request whose image cannot be decoded fails alone.
   */
  private async preprocess(picked: readonly Job[]): Promise<Map<string, Float32Array>> {
    const startedAt = performance.now();
    const decoding = new Map<string, Promise<Float32Array>>();
    for (const job of picked) {
      const key = this.imageKeyOf(job);
      if (job.kind === 'caption') {
        job.contextKey = key;
        // A caption of an image another running request is captioning reads the same context: pin it now.
        if (this.contexts.has(key)) {
          this.attach(job);
          job.cacheHit = true;
          this.cache.countHit();
          continue;
        }
      }
      if (decoding.has(key)) continue;
      if (this.cache.has(key)) continue;
      decoding.set(key, this.pixelsOf(job.item.image));
    }
    const pixels = new Map<string, Float32Array>();
    await Promise.all(
      [...decoding].map(async ([key, pending]) => {
        try {
          pixels.set(key, await pending);
        } catch (error) {
          for (const job of picked) if (job.imageKey === key) this.fail(job, serializeError(error));
        }
      }),
    );
    const preprocessMs = performance.now() - startedAt;
    for (const job of picked) job.preprocessMs = preprocessMs;
    return pixels;
  }

  /** Image embeddings by image key for the newcomers that need one: from the cache, or one vision encoder pass. */
  private async imageEmbeddings(picked: readonly Job[], pixels: Map<string, Float32Array>): Promise<Map<string, Float32Array>> {
    const embeddings = new Map<string, Float32Array>();
    const toEncode: string[] = [];
    for (const job of picked) {
      if (job.done || job.attached) continue;
      const key = job.imageKey;
      if (embeddings.has(key) || toEncode.includes(key)) {
        job.cacheHit = true;
        this.cache.countHit();
        continue;
      }
      const cached = this.cache.get(key);
      if (cached) {
        job.cacheHit = true;
        embeddings.set(key, cached);
        continue;
      }
      // Cached when preprocessing looked, gone now: only if the cache is smaller than one embedding, or cleared.
      if (!pixels.has(key)) pixels.set(key, await this.pixelsOf(job.item.image));
      toEncode.push(key);
    }
    if (toEncode.length > 0) {
      const perImage = this.model.imageTokens * this.manifest.dims.visionHidden;
      const startedAt = performance.now();
      const embeds = await this.model.encodeImages(concat(toEncode.map((key) => pixels.get(key) as Float32Array)), toEncode.length);
      this.estimates.observeVision(performance.now() - startedAt, toEncode.length);
      toEncode.forEach((key, i) => {
        const embedding = embeds.subarray(i * perImage, (i + 1) * perImage);
        embeddings.set(key, embedding);
        this.cache.set(key, embedding);
      });
    }
    return embeddings;
  }

  /** Cross K/V of the contexts the newcomers need that the decoder does not hold yet. */
  private async crossContexts(picked: readonly Job[], embeddings: Map<string, Float32Array>): Promise<Array<{ key: string; context: CrossContext }>> {
    const tokens = this.model.imageTokens;
    if (this.manifest.task === 'caption') {
      const keys = [...new Set(picked.filter((job) => !job.done && !job.attached).map((job) => job.contextKey as string))];
      if (keys.length === 0) return [];
      const startedAt = performance.now();
      const states = concat(keys.map((key) => embeddings.get(key) as Float32Array));
      const contexts = await this.model.crossContexts(states, keys.length, tokens, keys.map(() => tokens));
      this.estimates.observeContexts(performance.now() - startedAt, keys.length);
      return keys.map((key, i) => ({ key, context: contexts[i] }));
    }
    const live = picked.filter((job) => !job.done);
    if (live.length === 0) return [];
    const startedAt = performance.now();
    const embeds = concat(live.map((job) => embeddings.get(job.imageKey) as Float32Array));
    const questions = live.map((job) => job.question as number[]);
    const { states, paddedLength } = await this.model.encodeQuestions(embeds, questions);
    const contexts = await this.model.crossContexts(states, live.length, paddedLength, questions.map((q) => q.length));
    this.estimates.observeContexts(performance.now() - startedAt, live.length);
    return live.map((job, i) => {
      job.contextKey = `question:${this.nextQuestionContext++}`;
      return { key: job.contextKey, context: contexts[i] };
    });
  }

  private async decodeStep(): Promise<void> {
    if (this.session.size === 0) return;
    const startedAt = performance.now();
    try {
      await this.session.decode();
    } catch (error) {
      // The decoder's state is lost with the failed call: every running request fails, the next ones start afresh.
      const failure = serializeError(error);
      for (const job of [...this.running]) this.fail(job, failure);
      this.resetDecoder();
      return;
    }
    this.estimates.observeStep(performance.now() - startedAt);
    const rows = this.session.lastRows;
    for (const job of this.running) {
      job.batchSize = Math.max(job.batchSize, rows);
      job.steps++;
    }
  }

  /** A fresh decoder and session; the requests of the old ones must have been failed. */
  private resetDecoder(): void {
    this.decoder.dispose();
    this.contexts.clear();
    this.decoder = this.model.createDecoder([], { capacityHint: this.options.maxRows });
    this.session = new GenerationSession<Job>(this.decoder);
  }

  private failAll(error: SerializedError): void {
    for (const job of [...this.queue, ...this.admitting, ...this.running]) this.fail(job, error);
  }

  // #endregion

  // #region requests

  /** Text, options and lengths of a request, checked before it is queued. */
  private plan(kind: ItemKind, item: CaptionItem | AnswerItem): Pick<Job, 'request' | 'numBeams' | 'maxNewTokens' | 'question'> {
    const { prompt, question } = this.textOf(kind, item);
    const { dims, generation, tokenizer } = this.manifest;
    const options = resolveGenerationOptions(item.options ?? {}, generation, { maxPositions: dims.maxPositions, maxBeams: MAX_BEAMS });
    const request = { prompt, options, eosTokenId: tokenizer.ids.sep, padTokenId: tokenizer.ids.pad };
    // Validates the prompt length against the position table now, so a bad request never reaches the decoder.
    const plan = planSearch({ ...request, context: 0 }, dims.vocabSize);
    // transformers generates at least one token, even when the prompt already reaches max_length.
    return { request, numBeams: plan.numBeams, maxNewTokens: Math.max(1, plan.maxLength - plan.promptLength), question };
  }

  /** Decoder prompt and (VQA) question tokens, as transformers' processor builds them. */
  private textOf(kind: ItemKind, item: CaptionItem | AnswerItem): { prompt: number[]; question: number[] | undefined } {
    const { task, name } = this.manifest;
    const { bos } = this.manifest.tokenizer.ids;
    if ((kind === 'caption') !== (task === 'caption')) {
      throw new ServiceError(ErrorCode.WRONG_TASK, `${name} is a ${task} model and cannot ${kind === 'answer' ? 'answer questions' : 'caption images'}`);
    }
    if (kind === 'caption') {
      const { prompt } = item as CaptionItem;
      // The processor's [CLS] prompt [SEP] becomes [DEC] prompt (first id replaced, last column dropped).
      return { prompt: prompt === undefined || prompt === '' ? [bos] : [bos, ...this.tokenizer.encode(prompt).slice(1, -1)], question: undefined };
    }
    const { question } = item as AnswerItem;
    if (typeof question !== 'string' || question.trim() === '') throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected a non-empty question');
    // The question keeps [CLS] (transformers does not substitute [ENC]).
    const tokens = this.tokenizer.encode(question);
    const maxQuestion = this.manifest.tokenizer.maxLength;
    if (tokens.length > maxQuestion) {
      throw new ServiceError(ErrorCode.QUESTION_TOO_LONG, `The question is ${tokens.length} tokens long; this model reads at most ${maxQuestion}`, {
        details: { tokens: tokens.length, maxTokens: maxQuestion },
      });
    }
    return { prompt: [bos], question: tokens };
  }

  private async pixelsOf(image: Uint8Array): Promise<Float32Array> {
    const rgb = await decodeImage(image, this.options.imageLimits, { autoOrient: this.options.autoOrient });
    const pixels = toPixelValues([rgb], this.manifest.preprocess);
    const expected = 3 * this.manifest.preprocess.width * this.manifest.preprocess.height;
    if (pixels.length !== expected) throw new Error(`preprocessing produced ${pixels.length} values, expected ${expected}`);
    return pixels;
  }

  private complete(job: Job, sequence: number[]): void {
    if (job.done) return;
    this.settle(job, {
      ok: true,
      value: {
        text: this.tokenizer.decode(sequence, { skipSpecialTokens: true }),
        sequence,
        timings: {
          queueMs: job.admittedAt - job.arrivedAt,
          preprocessMs: job.preprocessMs,
          encodeMs: job.encodeMs,
          decodeMs: performance.now() - job.decodeStartedAt,
        },
        batchSize: job.batchSize,
        cacheHit: job.cacheHit,
      },
    });
  }

  /** Fails a request wherever it is: waiting, being encoded, or running (its rows leave at the next step). */
  private fail(job: Job, error: SerializedError): void {
    if (job.done) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (this.running.has(job)) this.session.remove(job);
    this.settle(job, { ok: false, error });
  }

  private settle(job: Job, result: ItemResult): void {
    job.done = true;
    this.running.delete(job);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (job.attached) this.detach(job);
    job.resolve(result);
  }

  // Private: contexts count the requests that read them (captions of one image share one context).
  private attach(job: Job): void {
    const context = this.contexts.get(job.contextKey as string);
    if (!context) throw new Error(`no context ${job.contextKey}`);
    context.refs++;
    job.attached = true;
  }

  // Private: the decoder frees a context once no request holds it and no row reads it.
  private detach(job: Job): void {
    job.attached = false;
    const key = job.contextKey as string;
    const context = this.contexts.get(key);
    if (!context) return;
    context.refs--;
    this.releaseIfUnused(key);
  }

  private releaseIfUnused(key: string): void {
    const context = this.contexts.get(key);
    if (!context || context.refs > 0) return;
    this.contexts.delete(key);
    this.decoder.releaseContext(context.id);
  }

  // #endregion
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`Expected a positive integer for ${name} but received ${value}`);
}
