import { parentPort, workerData } from 'node:worker_threads';
import { BlipPipeline, serializeError } from '../pipeline.ts';
import type { WorkerData, WorkerMessage, WorkerRequest } from './protocol.ts';

/**
 * Inference worker: owns one variant's ONNX sessions. ONNX Runtime's `run` blocks its thread, so it runs here and
 * the server's event loop only posts requests and receives results. Requests are handled one at a time, in order.
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

let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    try {
      const results = request.method === 'caption' ? await pipeline.caption(request.items) : await pipeline.answer(request.items);
      send({ type: 'result', id: request.id, results });
    } catch (error) {
      send({ type: 'failed', id: request.id, error: serializeError(error) });
    }
  });
});
