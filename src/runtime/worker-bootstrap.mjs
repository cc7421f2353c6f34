// Entry of every worker thread: registers tsx's loader inside the worker (workers do not inherit it), then loads the
// TypeScript module named in workerData. Plain JavaScript on purpose: it runs before any TypeScript support exists.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
