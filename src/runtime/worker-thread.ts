import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

/**
 * Starts a worker thread running the TypeScript module `entry` (a file URL). `data` reaches the module as
 * `workerData.data`. Workers are how inference stays off the server's event loop.
 */
export function startWorker(entry: URL, data: unknown, name: string): Worker {
  return new Worker(BOOTSTRAP, { workerData: { entry: entry.href, data }, name });
}

/**
 * Asks a worker to exit with a `{ type: 'stop' }` message, handled between two calls into native code, and only if it
 * has not exited after `forceAfterMs` terminates it: `Worker.terminate()` while onnxruntime's synchronous `run` (or a
 * native module's loading) is on the worker's stack can abort the whole process. Says which way it ended.
 */
export async function stopWorker(worker: Worker, forceAfterMs: number): Promise<'exited' | 'terminated'> {
  const exited = new Promise<'exited'>((resolve) => worker.once('exit', () => resolve('exited')));
  worker.postMessage({ type: 'stop' });
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), forceAfterMs);
  });
  const outcome = await Promise.race([exited, forced]);
  clearTimeout(timer);
  if (outcome === 'exited') return outcome;
  await worker.terminate();
  return 'terminated';
}

/**
 * A view of `bytes` that owns its whole ArrayBuffer, so it can be transferred to a worker without detaching a shared
 * buffer (Node's Buffers often sit inside a pooled slab).
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  // An empty view may sit on a detached buffer (already transferred): posting that would silently drop the message.
  if (bytes.byteLength === 0) return new Uint8Array(0);
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  return new Uint8Array(bytes);
}
