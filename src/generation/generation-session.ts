import { BeamSearch } from './beam-search.ts';
import { GreedySearch } from './greedy-search.ts';
import { SearchWorkspace, type NextRows, type RowSearch } from './row-search.ts';
import { planSearch, type GenerationRequest, type SearchPlan } from './search-plan.ts';
import type { TokenDecoder } from './token-decoder.ts';

/** A request that left the session with its sequence (what `generate` returns for it). */
export interface FinishedRequest<K> {
  key: K;
  sequence: number[];
}

interface Joining<K> {
  key: K;
  plan: SearchPlan;
}

interface Running<K> extends Joining<K> {
  search: RowSearch;
}

/**
 * A steppable `generate`: requests join and leave between decoder calls (continuous batching). Each decoder call
 * feeds the rows of the running requests and the prompts of the requests that joined since the previous call; each
 * request's search only ever reads its own rows, so every request gets exactly what it gets alone, whoever it shared
 * its steps with.
 *
 * The cycle is `advance()` (consume the last call's logits: tokens are chosen, finished and removed requests leave)
 * then `decode()` (one decoder call); `step()` does both. Between the two the owner may `add` and `remove` requests.
 * After a failed `decode` the session is broken: every call throws the decoder's error again.
 */
export class GenerationSession<K> {
  private readonly workspace: SearchWorkspace;
  /** Requests whose rows are in `logits` (after `decode`) or in `queued` (after `advance`). */
  private running: Array<Running<K>> = [];
  private joining: Array<Joining<K>> = [];
  private readonly removed = new Set<K>();
  private logits: Float32Array | undefined;
  private queued: NextRows | undefined;
  private rows = 0;
  private failure: unknown;
  private hasFailed = false;

  constructor(private readonly decoder: TokenDecoder) {
    this.workspace = new SearchWorkspace(decoder.vocabSize);
  }

  /** Requests in the session (running or joining). */
  get size(): number {
    return this.running.length + this.joining.length;
  }

  /** Decoder rows the session's requests can occupy at most: one per beam (a greedy request has one). */
  get reservedRows(): number {
    let rows = 0;
    for (const entry of this.running) rows += entry.plan.numBeams;
    for (const entry of this.joining) rows += entry.plan.numBeams;
    return rows;
  }

  /** Rows fed to the last decoder call. */
  get lastRows(): number {
    return this.rows;
  }

  /**
   * Queues a request: its prompt is fed at the next `decode`. Validates it first (`planSearch`), so a bad request
   * throws here and never reaches the decoder. `key` names it in `remove` and in the results; keys must be unique.
   */
  add(key: K, request: GenerationRequest): void {
    this.assertUsable();
    const plan = planSearch(request, this.decoder.vocabSize);
    this.joining.push({ key, plan });
  }

  /**
   * Makes a request leave: a joining one at once, a running one at the next `advance` (its rows are not continued;
   * when it was removed after `advance` they are computed by one more decoder call and then dropped). Returns false
   * for a key that is not in the session.
   */
  remove(key: K): boolean {
    const joining = this.joining.findIndex((entry) => entry.key === key);
    if (joining >= 0) {
      this.joining.splice(joining, 1);
      return true;
    }
    if (!this.running.some((entry) => entry.key === key)) return false;
    this.removed.add(key);
    return true;
  }

  /** Keys of every request in the session. */
  keys(): K[] {
    return [...this.running, ...this.joining].map((entry) => entry.key);
  }

  /**
   * Consumes the logits of the last `decode`: every running request chooses its next tokens. Returns the requests
   * that finished; they and the removed ones have left. Does nothing when called twice without a `decode` between.
   */
  advance(): Array<FinishedRequest<K>> {
    this.assertUsable();
    const logits = this.logits;
    if (logits === undefined) return [];
    this.logits = undefined;
    checkLogits(logits, this.rows, this.workspace.vocabSize);
    const next: NextRows = { parents: [], tokens: [] };
    const finished: Array<FinishedRequest<K>> = [];
    const stillRunning: Array<Running<K>> = [];
    for (const entry of this.running) {
      if (this.removed.has(entry.key)) continue;
      if (entry.search.advance(logits, next)) finished.push({ key: entry.key, sequence: entry.search.result() });
      else stillRunning.push(entry);
    }
    this.removed.clear();
    this.running = stillRunning;
    this.queued = next;
    return finished;
  }

  /**
   * One decoder call: the rows `advance` queued continue, and the joining requests' prompts start. Does nothing when
   * the session is empty.
   */
  async decode(): Promise<void> {
    this.assertUsable();
    if (this.logits !== undefined) throw new Error('decode() called twice without advance() between');
    const queued = this.queued ?? { parents: [], tokens: [] };
    this.queued = undefined;
    // A request removed after `advance` keeps its queued rows for this call; `advance` drops them.
    const joining = this.joining;
    this.joining = [];
    const continued = queued.parents.length;
    for (const [i, { key, plan }] of joining.entries()) {
      const row = continued + i;
      const search = plan.numBeams > 1 ? new BeamSearch(plan, this.workspace, row) : new GreedySearch(plan, this.workspace, row);
      this.running.push({ key, plan, search });
    }
    this.rows = continued + joining.length;
    if (this.rows === 0) return;
    const prompts = joining.map((entry) => ({ context: entry.plan.context, tokens: entry.plan.prompt }));
    try {
      if (continued === 0) this.logits = await this.decoder.start(prompts);
      else if (prompts.length === 0) this.logits = await this.decoder.next(queued.parents, queued.tokens);
      else this.logits = await this.decoder.step(queued.parents, queued.tokens, prompts);
    } catch (error) {
      this.hasFailed = true;
      this.failure = error;
      throw error;
    }
  }

  /** `advance` then `decode`: returns the requests that finished. */
  async step(): Promise<Array<FinishedRequest<K>>> {
    const finished = this.advance();
    await this.decode();
    return finished;
  }

  private assertUsable(): void {
    if (this.hasFailed) throw this.failure;
  }
}

// Private: a decoder that returns the wrong amount of logits would otherwise make searches read other rows.
function checkLogits(logits: Float32Array, rows: number, vocabSize: number): void {
  if (logits.length !== rows * vocabSize) {
    throw new Error(`Decoder returned ${logits.length} logits for ${rows} rows of ${vocabSize}`);
  }
}
