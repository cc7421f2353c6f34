// Child process of optimized-model.ts (plain JavaScript, so it starts without a TypeScript loader): runs original
// graphs and their saved optimized forms on the same inputs, for each dimension set, and prints `ok <i>` or `bad <i>`
// per job as it finishes (bad: an output differs by a single bit). A separate process because what it guards against
// is a crash (SIGSEGV) inside ONNX Runtime: the job without a line when the process dies is the one that crashed.
// argv: <JSON array of { original, optimized, dimensionSets: [{ symbolic dimension: size }] }>
import * as ort from 'onnxruntime-node';

const common = { executionMode: 'sequential', interOpNumThreads: 1, intraOpNumThreads: 1 };
const jobs = JSON.parse(process.argv[2]);
for (const [index, job] of jobs.entries()) {
  process.stdout.write(`${(await identical(job)) ? 'ok' : 'bad'} ${index}\n`);
}

async function identical({ original, optimized, dimensionSets }) {
  const reference = await ort.InferenceSession.create(original, { ...common, graphOptimizationLevel: 'all' });
  const candidate = await ort.InferenceSession.create(optimized, { ...common, graphOptimizationLevel: 'disabled' });
  try {
    for (const dims of dimensionSets) {
      const feeds = {};
      for (const input of reference.inputMetadata) {
        const shape = input.shape.map((d) => (typeof d === 'number' ? d : dims[d]));
        if (shape.some((d) => !Number.isInteger(d))) return false;
        const n = shape.reduce((a, b) => a * b, 1);
        // Small integers are valid ids, positions, masks and row indices; sines are ordinary activations.
        feeds[input.name] =
          input.type === 'int64'
            ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)), shape)
            : new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i)), shape);
      }
      const expected = await reference.run(feeds);
      const actual = await candidate.run(feeds);
      for (const [name, tensor] of Object.entries(expected)) {
        const a = tensor.data;
        const b = actual[name]?.data;
        if (!b || a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) return false;
      }
    }
    return true;
  } finally {
    await reference.release();
    await candidate.release();
  }
}
