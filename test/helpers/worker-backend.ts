import { resultOf } from '../../src/backend/event-stream.ts';
import type { AnswerItem, CaptionItem, ItemResult } from '../../src/backend/items.ts';
import type { ModelBackend, SubmitControls } from '../../src/backend/model-backend.ts';
import { WorkerBackend } from '../../src/backend/worker/worker-backend.ts';
import type { RuntimeOptions } from '../../src/models/family.ts';

/** What main.ts hands the registry: each variant's runtime in a worker thread. */
export const startWorkerBackend = (dir: string, options: RuntimeOptions): Promise<ModelBackend> => WorkerBackend.start(dir, options);

/** Every item in one group, results as values (what the old worker handle's `caption` returned). */
export function captionOn(backend: ModelBackend, items: readonly CaptionItem[], controls?: SubmitControls): Promise<ItemResult[]> {
  return Promise.all(backend.submitGroup(items.map((item) => ({ item: { kind: 'caption', item }, controls }))).map(resultOf));
}

export function answerOn(backend: ModelBackend, items: readonly AnswerItem[], controls?: SubmitControls): Promise<ItemResult[]> {
  return Promise.all(backend.submitGroup(items.map((item) => ({ item: { kind: 'answer', item }, controls }))).map(resultOf));
}
