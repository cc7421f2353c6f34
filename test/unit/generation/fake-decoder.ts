import type { TokenDecoder } from '../../../src/generation/token-decoder.ts';

/** Logits of a row's last position as a pure function of its context and full token history (prompt included). */
export type LogitsFunction = (context: number, history: readonly number[]) => ArrayLike<number>;

export interface RecordedRow {
  context: number;
  history: number[];
}

/**
 * Test double for the ONNX decoder: it keeps each live row's context and history (standing in for the KV cache),
 * computes logits with `logitsOf`, and records every call so tests can assert which rows were fed.
 */
export class FakeDecoder implements TokenDecoder {
  readonly startCalls: RecordedRow[][] = [];
  readonly nextCalls: Array<{ parents: number[]; tokens: number[] }> = [];
  readonly stepCalls: Array<{ parents: number[]; tokens: number[]; admitted: RecordedRow[] }> = [];
  /** Live rows after each call (index 0: after `start`). */
  readonly rowsPerCall: RecordedRow[][] = [];
  disposed = false;
  private rows: RecordedRow[] = [];

  constructor(
    readonly vocabSize: number,
    private readonly logitsOf: LogitsFunction,
  ) {}

  async start(rows: ReadonlyArray<{ context: number; tokens: ReadonlyArray<number> }>): Promise<Float32Array> {
    if (this.disposed) throw new Error('disposed');
    const recorded = rows.map((row) => ({ context: row.context, history: [...row.tokens] }));
    for (const row of recorded) if (row.history.length === 0) throw new Error('empty prompt');
    this.startCalls.push(recorded);
    this.rows = recorded;
    this.rowsPerCall.push(recorded);
    return this.logits();
  }

  async next(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>): Promise<Float32Array> {
    if (this.disposed) throw new Error('disposed');
    if (parents.length !== tokens.length) throw new Error('parents and tokens differ in length');
    const rows = parents.map((parent, i) => {
      if (!Number.isInteger(parent) || parent < 0 || parent >= this.rows.length) throw new Error(`bad parent ${parent}`);
      const token = tokens[i];
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) throw new Error(`bad token ${token}`);
      return { context: this.rows[parent].context, history: [...this.rows[parent].history, token] };
    });
    this.nextCalls.push({ parents: [...parents], tokens: [...tokens] });
    this.rows = rows;
    this.rowsPerCall.push(rows);
    return this.logits();
  }

  /** `next` for the running rows, then `start` for the admitted ones, appended (recorded in `stepCalls`). */
  async step(
    parents: ReadonlyArray<number>,
    tokens: ReadonlyArray<number>,
    admitted: ReadonlyArray<{ context: number; tokens: ReadonlyArray<number> }>,
  ): Promise<Float32Array> {
    if (this.disposed) throw new Error('disposed');
    if (parents.length !== tokens.length) throw new Error('parents and tokens differ in length');
    const continued = parents.map((parent, i) => {
      if (!Number.isInteger(parent) || parent < 0 || parent >= this.rows.length) throw new Error(`bad parent ${parent}`);
      const token = tokens[i];
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) throw new Error(`bad token ${token}`);
      return { context: this.rows[parent].context, history: [...this.rows[parent].history, token] };
    });
    const started = admitted.map((row) => ({ context: row.context, history: [...row.tokens] }));
    for (const row of started) if (row.history.length === 0) throw new Error('empty prompt');
    this.stepCalls.push({ parents: [...parents], tokens: [...tokens], admitted: started });
    this.rows = [...continued, ...started];
    this.rowsPerCall.push(this.rows);
    return this.logits();
  }

  dispose(): void {
    this.disposed = true;
  }

  private logits(): Float32Array {
    const out = new Float32Array(this.rows.length * this.vocabSize);
    this.rows.forEach((row, i) => {
      const values = this.logitsOf(row.context, row.history);
      if (values.length !== this.vocabSize) throw new Error('logits function returned the wrong size');
      for (let v = 0; v < this.vocabSize; v++) out[i * this.vocabSize + v] = values[v];
    });
    return out;
  }
}

/** 32-bit FNV-1a over integers, the seed of every pseudo-random row. */
export function hashInts(values: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const value of values) {
    let x = value | 0;
    for (let byte = 0; byte < 4; byte++) {
      h ^= x & 0xff;
      h = Math.imul(h, 0x01000193);
      x >>>= 8;
    }
  }
  return h >>> 0;
}

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Seeded logits: uniform in [-spread, spread] from a hash of (seed, context, history), plus `eosBias` on the eos
 * logit growing by `eosGrowth` per token of history, so sequences end at varied lengths.
 */
export function seededLogits(options: {
  seed: number;
  vocabSize: number;
  eosTokenId: number;
  spread?: number;
  eosBias?: number;
  eosGrowth?: number;
}): LogitsFunction {
  const { seed, vocabSize, eosTokenId, spread = 3, eosBias = 0, eosGrowth = 0 } = options;
  return (context, history) => {
    const random = createRandom(hashInts([seed, context, history.length, ...history]));
    const out = new Float32Array(vocabSize);
    for (let v = 0; v < vocabSize; v++) out[v] = (random() * 2 - 1) * spread;
    out[eosTokenId] += eosBias + eosGrowth * history.length;
    return out;
  };
}

/** Logits from a table of probabilities keyed by the history (`ln p`, so log_softmax gives back ≈ ln p). */
export function tableLogits(table: Record<string, readonly number[]>, fallback?: readonly number[]): LogitsFunction {
  return (_context, history) => {
    const probabilities = table[history.join(',')] ?? fallback;
    if (!probabilities) throw new Error(`no logits for history ${history.join(',')}`);
    return probabilities.map((p) => (p === 0 ? -30 : Math.log(p)));
  };
}
