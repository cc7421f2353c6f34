import { createHash } from 'node:crypto';
import { EventStream, streamOf } from '../../src/backend/event-stream.ts';
import { abortError } from '../../src/backend/item-signal.ts';
import type { BackendItem, BackendStats, BackendVariant, ModelBackend, SubmitControls } from '../../src/backend/model-backend.ts';
import type { RequestStage, SerializedError } from '../../src/backend/items.ts';
import { ErrorCode } from '../../src/errors.ts';
import { readManifest } from '../../src/variant/manifest.ts';

/**
 * A ModelBackend with no model and no thread: each item "generates" words derived from its image and text, one per
 * step of `stepMs`, through the same lifecycle (admitted, encoded, token, done/error) and the same cancellation rules
 * as the worker backend. A real implementation of the interface, for gateway tests that need no ONNX session.
 */
export class MemoryBackend implements ModelBackend {
  /** Every group submitted: item counts, in order (what a DataLoader dispatched). */
  readonly groups: number[] = [];
  private passes = 0;
  private closed = false;
  private running = 0;
  private readonly listeners: Array<(error: SerializedError) => void> = [];

  constructor(
    readonly variant: BackendVariant,
    private readonly stepMs = 2,
  ) {}

  static async start(dir: string): Promise<MemoryBackend> {
    const manifest = await readManifest(dir);
    return new MemoryBackend({ name: manifest.name, family: manifest.family, task: manifest.task, precision: manifest.precision });
  }

  /** The words an item gets: a function of its image and text only, so tests can compute the expected answer. */
  static wordsFor(item: BackendItem): string[] {
    const text = item.kind === 'caption' ? (item.item.prompt ?? '') : item.item.question;
    const digest = createHash('sha256').update(item.item.image).update(text).digest('hex');
    const max = item.item.options?.maxNewTokens ?? 5;
    return Array.from({ length: max }, (_, i) => `w${digest.slice(i * 2, i * 2 + 2)}`);
  }

  submit(item: BackendItem, controls?: SubmitControls): EventStream {
    return this.submitGroup([{ item, controls }])[0];
  }

  submitGroup(items: ReadonlyArray<{ item: BackendItem; controls?: SubmitControls }>): EventStream[] {
    this.groups.push(items.length);
    const pass = ++this.passes;
    const images = new Set(items.map(({ item }) => createHash('sha256').update(item.item.image).digest('hex'))).size;
    return items.map(({ item, controls = {} }) => {
      if (this.closed) return streamOf({ type: 'error', error: { code: ErrorCode.INFERENCE_FAILED, message: 'The backend is closed' } });
      const { signal } = controls;
      if (signal?.aborted) return streamOf({ type: 'error', error: abortError(signal, 'queue') });
      const stream = new EventStream();
      void this.run(stream, item, controls, pass, images);
      return stream;
    });
  }

  async stats(): Promise<BackendStats> {
    return { queued: 0, running: this.running, rows: this.running, cache: { hits: 0, misses: 0, evictions: 0, bytes: 0, entries: 0, maxBytes: 0 } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.listeners) listener({ code: ErrorCode.INFERENCE_FAILED, message: 'memory backend closed' });
  }

  onFailure(listener: (error: SerializedError) => void): void {
    this.listeners.push(listener);
  }

  private async run(stream: EventStream, item: BackendItem, controls: SubmitControls, pass: number, images: number): Promise<void> {
    const { signal } = controls;
    let stage: RequestStage = 'queue';
    let ended = false;
    const end = (error: SerializedError) => {
      if (ended) return;
      ended = true;
      stream.push({ type: 'error', error });
    };
    const onAbort = () => end(abortError(signal as AbortSignal, stage));
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.onAbandon(() => {
      ended = true;
    });
    this.running++;
    try {
      const words = MemoryBackend.wordsFor(item);
      stream.push({ type: 'admitted', queueMs: 0 });
      stage = 'encode';
      await delay(this.stepMs);
      if (ended) return;
      stream.push({ type: 'encoded', pass, preprocessMs: 0, encodeMs: this.stepMs, encoderBatch: images, cacheHit: false });
      stage = 'decode';
      for (let i = 1; i <= words.length; i++) {
        await delay(this.stepMs);
        if (ended) return;
        if (i < words.length && controls.stream) stream.push({ type: 'token', text: words.slice(0, i).join(' '), generated: i });
      }
      if (ended) return;
      ended = true;
      const text = words.join(' ');
      stream.push({
        type: 'done',
        output: {
          text,
          sequence: words.map((_, i) => i),
          timings: { queueMs: 0, preprocessMs: 0, encodeMs: this.stepMs, decodeMs: this.stepMs * words.length },
          batchSize: 1,
          encoderBatch: images,
          cacheHit: false,
          tokens: { prompt: 1, generated: words.length },
        },
      });
    } finally {
      this.running--;
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
