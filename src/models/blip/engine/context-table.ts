import type { CrossContext } from '../runtime/cross-context.ts';
import type { OnnxTokenDecoder } from '../runtime/onnx-token-decoder.ts';
import type { Job } from './job.ts';

/**
 * Cross-attention contexts held by the decoder, with the requests that read them: captions of one image share one
 * context (keyed by the image), each VQA request has its own. The decoder frees a context once no request holds it.
 */
export class ContextTable {
  private readonly contexts = new Map<string, { id: number; refs: number }>();
  private nextQuestion = 0;

  constructor(private decoder: OnnxTokenDecoder) {}

  has(key: string): boolean {
    return this.contexts.has(key);
  }

  /** The decoder's id of a context. */
  idOf(key: string): number {
    const context = this.contexts.get(key);
    if (!context) throw new Error(`no context ${key}`);
    return context.id;
  }

  /** A fresh key for a VQA request's own context. */
  questionKey(): string {
    return `question:${this.nextQuestion++}`;
  }

  add(key: string, context: CrossContext): void {
    this.contexts.set(key, { id: this.decoder.addContext(context), refs: 0 });
  }

  attach(job: Job): void {
    const context = this.contexts.get(job.contextKey as string);
    if (!context) throw new Error(`no context ${job.contextKey}`);
    context.refs++;
    job.attached = true;
  }

  detach(job: Job): void {
    job.attached = false;
    const key = job.contextKey as string;
    const context = this.contexts.get(key);
    if (!context) return;
    context.refs--;
    this.releaseIfUnused(key);
  }

  releaseIfUnused(key: string): void {
    const context = this.contexts.get(key);
    if (!context || context.refs > 0) return;
    this.contexts.delete(key);
    this.decoder.releaseContext(context.id);
  }

  /** Forgets every context (the decoder that held them was replaced). */
  reset(decoder: OnnxTokenDecoder): void {
    this.contexts.clear();
    this.decoder = decoder;
  }
}
