import { parentPort, workerData } from 'node:worker_threads';
import { UnreachableCaseError } from '../../errors.ts';
import { familyOf } from '../../models/families.ts';
import type { FamilyRuntime } from '../../models/family.ts';
import { readManifest } from '../../variant/manifest.ts';
import type { BackendEvent } from '../model-backend.ts';
import { serializeError } from '../items.ts';
import type { WorkerAssignment, WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';

/**
 * Inference worker: owns one variant's runtime, whatever its family. ONNX Runtime's `run` blocks its thread, so it
 * runs here and the server's event loop only posts items and receives events. Messages are read between decode
 * steps; events emitted during one step leave in one message.
 */
const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
const { variantDir, options } = (workerData as { data: WorkerData | null }).data ?? (await assignment());
const send = (message: WorkerMessage) => port.postMessage(message);

let runtime: FamilyRuntime;
try {
  const manifest = await readManifest(variantDir);
  // Collected and sent with 'ready': the server's logger lives on the main thread.
  const warnings: string[] = [];
  runtime = await familyOf(manifest.family, variantDir).loadRuntime(variantDir, options, (message) => warnings.push(message));
  send({ type: 'ready', manifest: runtime.manifest, warnings });
} catch (error) {
  send({ type: 'load-failed', error: serializeError(error) });
  process.exit(0);
}

/** A spare worker's variant: it has imported everything above and waits for its first message (spare-worker.ts). */
function assignment(): Promise<WorkerData> {
  return new Promise((resolve) => {
    port!.once('message', (message: WorkerAssignment) => {
      if (message.type === 'stop') process.exit(0);
      resolve(message.data);
    });
    port!.postMessage({ type: 'spare-ready' } satisfies WorkerMessage);
  });
}

/** Items in the runtime, by id: aborting one makes it leave with the abort's reason. */
const inFlight = new Map<number, AbortController>();
let outbox: Array<{ id: number; event: BackendEvent }> = [];

function emit(id: number, event: BackendEvent): void {
  if (event.type === 'done' || event.type === 'error') inFlight.delete(id);
  if (outbox.length === 0) queueMicrotask(flush);
  outbox.push({ id, event });
}

function flush(): void {
  const events = outbox;
  outbox = [];
  send({ type: 'events', events });
}

port.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'submit':
      runtime.submitGroup(
        message.submissions.map(({ id, stream, ...item }) => {
          const controller = new AbortController();
          inFlight.set(id, controller);
          return { ...item, stream, signal: controller.signal, emit: (event: BackendEvent) => emit(id, event) };
        }),
      );
      return;
    case 'cancel':
      inFlight.get(message.id)?.abort(message.reason);
      return;
    case 'stats':
      send({ type: 'stats', id: message.id, stats: runtime.stats() });
      return;
    case 'stop':
      // Message handlers run between model calls (run() is synchronous on this thread), so exiting here never
      // interrupts native code. Items in flight fail on the main side when the thread exits.
      process.exit(0);
    default:
      throw new UnreachableCaseError(message);
  }
});
