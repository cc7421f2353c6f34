import { performance } from 'node:perf_hooks';
import { abortError } from '../../../backend/item-signal.ts';
import type { BackendEvent, BackendStats } from '../../../backend/model-backend.ts';
import { serializeError, type AnswerItem, type CaptionItem, type ItemKind, type SerializedError } from '../../../backend/items.ts';
import { ErrorCode } from '../../../errors.ts';
import { GenerationSession } from '../../../generation/generate.ts';
import type { ImageLimits } from '../../../image/decode.ts';
import type { VariantManifest } from '../../../variant/manifest.ts';
import type { BlipModel } from '../runtime/blip-model.ts';
import type { OnnxTokenDecoder } from '../runtime/onnx-token-decoder.ts';
import type { BlipTokenizer } from '../runtime/tokenizer.ts';
import { ADMISSION_POLICIES, admissionCount, candidateGroups, CostEstimates, type AdmissionPolicy } from './admission.ts';
import { ContextTable } from './context-table.ts';
import { EmbeddingCache } from './embedding-cache.ts';
import { imageKeyOf, runEncoderPass, type EncoderDeps } from './encoder-pass.ts';
import type { Job } from './job.ts';
import { planRequest } from './request-plan.ts';

export type { AdmissionPolicy } from './admission.ts';

/** What items get once the engine is closed (and those still in it when it closes). */
const SHUT_DOWN: SerializedError = { code: ErrorCode.INFERENCE_FAILED, message: 'The inference engine is shut down' };

export interface EngineOptions {
  imageLimits: ImageLimits;
  /** Apply the EXIF orientation before preprocessing. */
  autoOrient: boolean;
  /** Decoder rows of the running batch, beams included: a request takes `numBeams` rows. */
  maxRows: number;
  /** Requests encoded and admitted between two decode steps, at most (a submitted group is never split). */
  maxAdmitPerStep: number;
  /** Images per vision encoder run: a pass that encodes more runs it in chunks (bounds the encoder's activations). */
  maxVisionBatch: number;
  /** Bytes of image embeddings the cache keeps (0 disables it). */
  embeddingCacheBytes: number;
  admission: AdmissionPolicy;
}

/** One item for `submitGroup`. */
export interface EngineItem {
  kind: ItemKind;
  item: CaptionItem | AnswerItem;
  /** Aborting it makes the item leave at the next step; its reason becomes the item's error (see item-signal.ts). */
  signal?: AbortSignal;
  /** Send a `token` event after each decode step. */
  stream?: boolean;
  /** Receives the item's events; the last one is `done` or `error`. */
  emit: (event: BackendEvent) => void;
}

export interface EngineStats extends BackendStats {
  /** What the admission policy currently estimates a pass costs. */
  estimates: { visionMsPerImage: number; contextMsPerRequest: number; stepMs: number };
}

/**
 * The serving engine of one variant, inside its inference worker: a queue of item groups and ONE running decode batch
 * (continuous batching). Between two decode steps it admits waiting groups (a group is what arrived in one message:
 * a DataLoader batch of the gateway) in one encoder pass for the newcomers: image decoding, the vision encoder (or the
 * embedding cache), the question encoder and cross K/V. Their prompts join the next decoder call
 * (`GenerationSession`). Finished and cancelled items leave between steps; an item's deadline reaches it as an abort
 * of its signal. Every item gets exactly the tokens it gets alone.
 *
 * Admission: see admission.ts (the policies and the measurements behind the default).
 * Hence the default: `adaptive`, whole groups in FIFO order, up to `maxAdmitPerStep` items per step boundary (one
 * encoder pass), within `maxRows` (a group that does not fit stops admission: wide beam requests do not starve).
 */
export class ServingEngine {
  private readonly cache: EmbeddingCache;
  private readonly estimates = new CostEstimates();
  private decoder: OnnxTokenDecoder;
  private session: GenerationSession<Job>;
  private readonly contexts: ContextTable;
  private readonly encoder: EncoderDeps;
  private readonly queue: Job[] = [];
  /** Requests taken from the queue for the encoder pass under way. */
  private readonly admitting = new Set<Job>();
  private readonly running = new Set<Job>();
  private nextGroup = 0;
  private passes = 0;
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
    checkPositiveInteger(options.maxVisionBatch, 'maxVisionBatch');
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
    // No capacity hint: the batch grows with its rows. Reserving maxRows slots at every start after idle cost a lone
    // blip-base caption 1.87 s instead of 1.39 s (fresh buffers for 16 rows of cross K/V each time).
    this.decoder = model.createDecoder([]);
    this.session = new GenerationSession<Job>(this.decoder);
    this.contexts = new ContextTable(this.decoder);
    this.encoder = {
      manifest,
      model,
      cache: this.cache,
      estimates: this.estimates,
      contexts: this.contexts,
      imageLimits: options.imageLimits,
      autoOrient: options.autoOrient,
      maxVisionBatch: options.maxVisionBatch,
      fail: (job, error) => this.fail(job, error),
    };
  }

  /**
   * Queues items that arrived together; they are admitted together, in one encoder pass. Each item's text and
   * options are checked at once (a bad one ends with an `error` event and leaves the others); its image when the
   * group is admitted.
   */
  submitGroup(items: readonly EngineItem[]): void {
    const group = this.nextGroup++;
    for (const entry of items) this.enqueue(entry, group);
    this.kick();
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
    this.failAll(SHUT_DOWN);
    this.decoder.dispose();
  }

  private enqueue(entry: EngineItem, group: number): void {
    const { kind, item, signal, emit } = entry;
    if (this.closed) return emit({ type: 'error', error: SHUT_DOWN });
    if (signal?.aborted) return emit({ type: 'error', error: abortError(signal, 'queue') });
    let planned;
    try {
      planned = planRequest(this.manifest, this.tokenizer, kind, item);
    } catch (error) {
      return emit({ type: 'error', error: serializeError(error) });
    }
    const job: Job = {
      kind,
      item,
      group,
      signal,
      onAbort: undefined,
      stream: entry.stream ?? false,
      emit,
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
      encoderBatch: 0,
      decodeStartedAt: 0,
      batchSize: 0,
    };
    if (signal) {
      job.onAbort = () => this.fail(job, abortError(signal, job.stage));
      signal.addEventListener('abort', job.onAbort, { once: true });
    }
    this.queue.push(job);
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

  /** One iteration per decode step: receive messages (cancellations), finish, stream, admit, decode. */
  private async loop(): Promise<void> {
    while (!this.closed && (this.queue.length > 0 || this.session.size > 0)) {
      // New requests and cancellations arrive as messages: let them in between steps.
      await new Promise((resolve) => setImmediate(resolve));
      for (const { key, sequence } of this.session.advance()) this.complete(key, sequence);
      this.streamTokens();
      // An idle engine holds no batch buffers (a base-size batch holds 42.5 MB of cross-attention inputs per row).
      if (this.session.size === 0 && this.queue.length === 0) this.decoder.clear();
      await this.admit();
      await this.decodeStep();
    }
  }

  /** The text so far of every running request that streams, after the tokens this step chose. */
  private streamTokens(): void {
    for (const job of this.running) {
      if (!job.stream || job.done) continue;
      const sequence = this.session.current(job);
      if (!sequence) continue;
      const generated = sequence.length - job.request.prompt.length;
      if (generated <= 0) continue;
      job.emit({ type: 'token', text: this.tokenizer.decode(sequence, { skipSpecialTokens: true }), generated });
    }
  }

  /** Picks the groups admitted at this step boundary (see admission.ts) and runs their encoder pass. */
  private async admit(): Promise<void> {
    const groups = candidateGroups(this.queue, this.options.maxRows - this.session.reservedRows, this.options.maxAdmitPerStep, this.session.size > 0);
    if (groups.length === 0) return;
    const count = admissionCount(this.options.admission, {
      running: this.running.size,
      drainMs: this.drainMs(),
      encodeMs: this.running.size > 0 ? this.encodeEstimates(groups) : groups.map(() => 0),
    });
    const picked = this.queue.splice(0, groups.slice(0, count).reduce((n, group) => n + group.length, 0));
    if (picked.length === 0) return;
    const admittedAt = performance.now();
    for (const job of picked) {
      job.admittedAt = admittedAt;
      job.stage = 'encode';
      this.admitting.add(job);
      job.emit({ type: 'admitted', queueMs: admittedAt - job.arrivedAt });
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

  /** Estimated encoder time of each candidate group: no vision pass for a cached (or repeated) image, no context pass for a caption of an image being captioned. */
  private encodeEstimates(groups: readonly Job[][]): number[] {
    const seen = new Set<string>();
    return groups.map((group) =>
      group.reduce((sum, job) => {
        const key = imageKeyOf(this.cache, job);
        const shared = job.kind === 'caption' && (this.contexts.has(key) || seen.has(key));
        const vision = shared || this.cache.has(key) || seen.has(key) ? 0 : this.estimates.visionMs;
        seen.add(key);
        return sum + vision + (shared ? 0 : this.estimates.contextMs);
      }, 0),
    );
  }

  /** The newcomers' encoder pass; they join the session at the next decode. */
  private async encode(picked: Job[]): Promise<void> {
    const pass = ++this.passes;
    let created;
    try {
      ({ created } = await runEncoderPass(this.encoder, picked));
    } catch (error) {
      for (const job of picked) this.fail(job, serializeError(error));
      return;
    }
    for (const { key, context } of created) this.contexts.add(key, context);
    for (const job of picked) if (!job.done && !job.attached) this.contexts.attach(job);
    // Contexts made for requests that were cancelled meanwhile.
    for (const { key } of created) this.contexts.releaseIfUnused(key);
    for (const job of picked) {
      if (job.done) continue;
      job.emit({ type: 'encoded', pass, preprocessMs: job.preprocessMs, encodeMs: job.encodeMs, encoderBatch: job.encoderBatch, cacheHit: job.cacheHit });
      this.session.add(job, { ...job.request, context: this.contexts.idOf(job.contextKey as string) });
      this.running.add(job);
      job.stage = 'decode';
      job.decodeStartedAt = performance.now();
    }
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
    this.decoder = this.model.createDecoder([]);
    this.contexts.reset(this.decoder);
    this.session = new GenerationSession<Job>(this.decoder);
  }

  private failAll(error: SerializedError): void {
    for (const job of [...this.queue, ...this.admitting, ...this.running]) this.fail(job, error);
  }

  // #endregion

  // #region settling

  private complete(job: Job, sequence: number[]): void {
    if (job.done) return;
    const promptTokens = job.request.prompt.length;
    this.settle(job, {
      type: 'done',
      output: {
        text: this.tokenizer.decode(sequence, { skipSpecialTokens: true }),
        sequence,
        timings: {
          queueMs: job.admittedAt - job.arrivedAt,
          preprocessMs: job.preprocessMs,
          encodeMs: job.encodeMs,
          decodeMs: performance.now() - job.decodeStartedAt,
        },
        batchSize: job.batchSize,
        encoderBatch: job.encoderBatch,
        cacheHit: job.cacheHit,
        tokens: { prompt: promptTokens, generated: sequence.length - promptTokens },
      },
    });
  }

  /** Fails a request wherever it is: waiting, being encoded, or running (its rows leave at the next step). */
  private fail(job: Job, error: SerializedError): void {
    if (job.done) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (this.running.has(job)) this.session.remove(job);
    this.settle(job, { type: 'error', error });
  }

  private settle(job: Job, event: BackendEvent): void {
    job.done = true;
    this.running.delete(job);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (job.attached) this.contexts.detach(job);
    job.emit(event);
  }

  // #endregion
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`Expected a positive integer for ${name} but received ${value}`);
}
