import { performance } from 'node:perf_hooks';
import type { ServedResult } from '../batching/types.ts';
import { clientCodeOf } from './error-codes.ts';

/** The operations that metrics and logs tell apart: the inference and upload mutations, and the REST route. */
export type OperationName = 'caption' | 'answer' | 'captionBatch' | 'answerBatch' | 'uploadImage' | 'rest' | 'admin' | 'captionStream' | 'answerStream';

/** One item a model served: what metrics need to count generated tokens and batch sizes. */
export interface ServedItem {
  variant: string;
  batchSize: number;
  /** Tokens the model generated for it, as the engine counted them (the prompt excluded). */
  generatedTokens: number;
  /** The image embedding came from the worker's cache. */
  cacheHit: boolean;
  /** Time the item waited before the engine admitted it. */
  queueMs: number;
}

/** One root field (or the REST call) of a request, as observed while it ran. */
export interface OperationRecord {
  operation: OperationName;
  /** Distinct variants that served (or were asked for) items, sorted. */
  variants: string[];
  served: ServedItem[];
  /** The code of every item that failed, in the order they failed. */
  codes: string[];
  durationMs: number;
}

/**
 * What one HTTP request did, collected while it runs (by the resolvers, the REST route and the error senders) and read
 * once when the response is finished, for its log line and its metrics. Holds no request data: no variables, no
 * images, no text.
 */
export class RequestRecord {
  readonly startedAt = performance.now();
  readonly operations: OperationRecord[] = [];
  /** Codes of errors raised outside any operation: body limits, parse and validation failures, rate limits. */
  readonly requestCodes: string[] = [];
  /** The GraphQL `operationName` the client sent, if any. */
  graphqlOperationName: string | undefined;

  constructor(readonly requestId: string) {}

  /** Starts observing one operation; call `end()` on the result when it finished. */
  begin(operation: OperationName): OperationTracker {
    const started = performance.now();
    const record: OperationRecord = { operation, variants: [], served: [], codes: [], durationMs: 0 };
    this.operations.push(record);
    const addVariant = (variant: string) => {
      if (!record.variants.includes(variant)) record.variants = [...record.variants, variant].sort();
    };
    return {
      served(result: ServedResult) {
        addVariant(result.variant);
        record.served.push({ variant: result.variant, batchSize: result.batchSize, generatedTokens: result.tokens.generated, cacheHit: result.cacheHit, queueMs: result.timings.queueMs });
      },
      failed(error: unknown) {
        record.codes.push(clientCodeOf(error));
      },
      end() {
        record.durationMs = performance.now() - started;
      },
    };
  }

  /** Every error code of the request: the operations' and the request's own. */
  allCodes(): string[] {
    return [...this.operations.flatMap((op) => op.codes), ...this.requestCodes];
  }
}

export interface OperationTracker {
  served(result: ServedResult): void;
  failed(error: unknown): void;
  end(): void;
}

/**
 * Runs one item of an operation and records what became of it (served or failed); the error is rethrown unchanged.
 */
export async function trackItem(tracker: OperationTracker, run: () => Promise<ServedResult>): Promise<ServedResult> {
  try {
    const served = await run();
    tracker.served(served);
    return served;
  } catch (error) {
    tracker.failed(error);
    throw error;
  }
}
