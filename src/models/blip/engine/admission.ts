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
 * Measurements and simulations behind the default are in the engine report and in ServingEngine's comment.
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
