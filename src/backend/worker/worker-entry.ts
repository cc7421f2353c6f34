import { parentPort, workerData } from 'node:worker_threads';
import { UnreachableCaseError } from '../../errors.ts';
import { BlipPipeline, serializeError } from '../../models/blip/runtime/pipeline.ts';
import type { WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';

/**
 * Inference worker: owns one variant's ONNX sessions. ONNX Runtime's `run` blocks its thread, so it runs here and
 * the server's event loop only posts requests and receives results. Requests are queued in the pipeline's serving
 * engine, which admits them into its running batch between decode steps; messages are read between steps.
 */
const port = parentPort;
if (!port) throw new Error('inference-worker must run in a worker thread');
const { variantDir, options } = (workerData as { data: WorkerData }).data;
const send = (message: WorkerMessage) => port.postMessage(message);

let pipeline: BlipPipeline;
try {
  pipeline = await BlipPipeline.load(variantDir, options);
  send({ type: 'ready', manifest: pipeline.manifest });
} catch (error) {
  send({ type: 'load-failed', error: serializeError(error) });
  process.exit(0);
}

/** Requests in the engine, by id: aborting one cancels it. */
const inFlight = new Map<number, AbortController>();

port.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'submit':
      for (const { id, kind, item, deadline } of message.submissions) {
        const controller = new AbortController();
        inFlight.set(id, controller);
        void pipeline.submit(kind, item, { deadline, signal: controller.signal }).then((result) => {
          inFlight.delete(id);
          send({ type: 'result', id, result });
        });
      }
      return;
    case 'cancel':
      inFlight.get(message.id)?.abort();
      return;
    case 'stats':
      send({ type: 'stats', id: message.id, stats: pipeline.stats() });
      return;
    case 'stop':
      // Message handlers run between model calls (run() is synchronous on this thread), so exiting here never
      // interrupts native code. Requests in flight fail on the main side when the thread exits.
      process.exit(0);
    default:
      throw new UnreachableCaseError(message);
  }
});
