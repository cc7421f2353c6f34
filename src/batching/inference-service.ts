import DataLoader from 'dataloader';
import { performance } from 'node:perf_hooks';
import type { AnswerItem, CaptionItem, ItemResult } from '../blip/pipeline.ts';
import { deserializeError } from '../blip/pipeline.ts';
import type { ModelRegistry, VariantInfo } from '../registry/types.ts';
import { BatchScheduler } from './batch-scheduler.ts';
import type { AnswerRequest, CaptionRequest, InferenceService, ServedResult } from './types.ts';

type Job = { kind: 'caption'; item: CaptionItem; enqueuedAt: number } | { kind: 'answer'; item: AnswerItem; enqueuedAt: number };

/** Observes every model pass; used by metrics and by tests that assert which requests formed which batch. */
export type BatchListener = (event: { variant: string; size: number; kind: Job['kind'] }) => void;

export interface InferenceServiceOptions {
  onBatch?: BatchListener;
}

/**
 * The serving engine: one process-wide DataLoader per variant (not per request, and without its cache), so that
 * concurrent requests from different clients share batched encoder passes and decode steps.
 */
export function createInferenceService(registry: ModelRegistry, options: InferenceServiceOptions = {}): InferenceService {
  const loaders = new Map<string, DataLoader<Job, ServedResult>>();

  const loaderFor = (variant: VariantInfo): DataLoader<Job, ServedResult> => {
    let loader = loaders.get(variant.name);
    if (!loader) {
      const scheduler = new BatchScheduler(variant.batching.maxQueueDelayMs);
      loader = new DataLoader<Job, ServedResult>((jobs) => runBatch(registry, variant.name, jobs, scheduler, options.onBatch), {
        cache: false,
        maxBatchSize: variant.batching.maxBatchSize,
        batchScheduleFn: scheduler.schedule,
      });
      loaders.set(variant.name, loader);
    }
    return loader;
  };

  return {
    async caption(request: CaptionRequest): Promise<ServedResult> {
      const variant = registry.resolve(request.model, 'caption');
      return loaderFor(variant).load({ kind: 'caption', item: { image: request.image, prompt: request.prompt, options: request.options }, enqueuedAt: performance.now() });
    },
    async answer(request: AnswerRequest): Promise<ServedResult> {
      const variant = registry.resolve(request.model, 'vqa');
      return loaderFor(variant).load({ kind: 'answer', item: { image: request.image, question: request.question, options: request.options }, enqueuedAt: performance.now() });
    },
  };
}

async function runBatch(
  registry: ModelRegistry,
  variant: string,
  jobs: readonly Job[],
  scheduler: BatchScheduler,
  onBatch: BatchListener | undefined,
): Promise<Array<ServedResult | Error>> {
  const end = scheduler.begin();
  try {
    const worker = await registry.acquire(variant);
    const kind = jobs[0].kind;
    onBatch?.({ variant, size: jobs.length, kind });
    const results: ItemResult[] =
      kind === 'caption'
        ? await worker.caption(jobs.map((job) => job.item as CaptionItem))
        : await worker.answer(jobs.map((job) => job.item as AnswerItem));
    const finished = performance.now();
    return results.map((result, i) => {
      if (!result.ok) return deserializeError(result.error);
      const { timings } = result.value;
      const totalMs = finished - jobs[i].enqueuedAt;
      const queueMs = Math.max(0, totalMs - timings.preprocessMs - timings.encodeMs - timings.decodeMs);
      return { text: result.value.text, sequence: result.value.sequence, variant, batchSize: jobs.length, timings: { ...timings, queueMs } };
    });
  } catch (error) {
    return jobs.map(() => (error instanceof Error ? error : new Error(String(error))));
  } finally {
    end();
  }
}
