/**
 * When waiting requests join the running batch (decided at every step boundary, between two decoder calls).
 *
 * - `adaptive` (the default): admit when what the newcomers save outweighs what they cost. Admitting `n` newcomers
 *   stalls each of the `R` running requests for their encoder pass `E(n)`; deferring them makes each wait about
 *   `W`, the time the running batch needs to finish. Admit the longest FIFO prefix with `R · E(n) ≤ n · W` (greedy
 *   shortest-remaining-work: running requests are closer to done). With nothing running, admit.
 * - `eager`: admit whenever the batch has room (plain continuous batching).
 * - `drain`: admit only once the running batch has finished (what a batch-at-a-time server does).
 *
 * Every policy admits at most `maxAdmitPerStep` requests per boundary, in FIFO order, as many as fit in `maxRows`.
 * Every policy admits whole groups (what arrived in one message), never splitting one.
 *
 * The default was chosen on measurements with blip-base, random weights, 20 tokens per caption, on
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
 * Hence `adaptive`.
 */
export type AdmissionPolicy = 'adaptive' | 'eager' | 'drain';

export const ADMISSION_POLICIES: readonly AdmissionPolicy[] = ['adaptive', 'eager', 'drain'];

export interface AdmissionState {
  /** Requests in the running batch. */
  running: number;
  /** Estimated milliseconds until every running request has finished. */
  drainMs: number;
  /** Estimated encoder milliseconds of each request that could be admitted now, in admission order. */
  encodeMs: readonly number[];
}

/** What admission needs to know of a waiting item. */
export interface Waiting {
  /** Items submitted together share a group. */
  group: number;
  /** Decoder rows it takes (its beams). */
  numBeams: number;
}

/**
 * The waiting groups that may join now, in FIFO order: whole groups, as many as fit in the `room` free rows and in
 * `maxItems` items (a first group larger than that still goes whole). Only a group wider than the whole batch is
 * cut: with nothing running, its longest prefix that fits goes (one item at least: a request wider than the batch
 * runs alone), and the rest stays first in the queue.
 */
export function candidateGroups<T extends Waiting>(queue: readonly T[], room: number, maxItems: number, running: boolean): T[][] {
  const groups: T[][] = [];
  let items = 0;
  for (let i = 0; i < queue.length; ) {
    let end = i;
    while (end < queue.length && queue[end].group === queue[i].group) end++;
    const group = queue.slice(i, end);
    const rows = group.reduce((n, item) => n + item.numBeams, 0);
    const first = groups.length === 0;
    if (!first && items + group.length > maxItems) break;
    if (rows <= room) {
      groups.push(group);
      room -= rows;
      items += group.length;
      i = end;
      continue;
    }
    if (first && !running) {
      let fit = 1;
      for (let taken = group[0].numBeams; fit < group.length && taken + group[fit].numBeams <= room; fit++) taken += group[fit].numBeams;
      groups.push(group.slice(0, fit));
    }
    break;
  }
  return groups;
}

/** How many of the candidate requests (a prefix of `state.encodeMs`) to admit now. */
export function admissionCount(policy: AdmissionPolicy, state: AdmissionState): number {
  const candidates = state.encodeMs.length;
  if (state.running === 0 || policy === 'eager') return candidates;
  if (policy === 'drain') return 0;
  let admit = 0;
  let cost = 0;
  for (let n = 1; n <= candidates; n++) {
    cost += state.encodeMs[n - 1];
    if (state.running * cost <= n * state.drainMs) admit = n;
  }
  return admit;
}

/**
 * Running estimates of what the engine's passes cost (exponentially weighted, so they follow load changes): the
 * vision encoder per image, the context pass (question encoder, cross K/V) per request, a decode step.
 */
export class CostEstimates {
  visionMs = 0;
  contextMs = 0;
  stepMs = 0;

  constructor(private readonly weight = 0.3) {}

  observeVision(ms: number, images: number): void {
    this.visionMs = this.mix(this.visionMs, ms / images);
  }

  observeContexts(ms: number, requests: number): void {
    this.contextMs = this.mix(this.contextMs, ms / requests);
  }

  observeStep(ms: number): void {
    this.stepMs = this.mix(this.stepMs, ms);
  }

  private mix(old: number, sample: number): number {
    return old === 0 ? sample : old + this.weight * (sample - old);
  }
}
