/**
 * Writes a scene dataset for the demo-model trainer:
 *   npx tsx tools/scenes/cli.ts --out DIR --count N --seed S [--concurrency C] [--augment P]
 * --augment P draws a share P (0..1) of the scenes with the augmented generator (augment.ts), for training.
 */
import { parseArgs } from 'node:util';
import { writeDataset } from './dataset.ts';

function positiveInt(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`Expected a non-negative integer for --${name} but received ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string' },
      concurrency: { type: 'string' },
      augment: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new TypeError('Expected a directory for --out but received nothing');
  const count = positiveInt('count', values.count);
  const seed = positiveInt('seed', values.seed);
  const concurrency = positiveInt('concurrency', values.concurrency, 4);
  const augment = values.augment === undefined ? 0 : Number(values.augment);
  if (!(augment >= 0 && augment <= 1)) throw new TypeError(`Expected a share between 0 and 1 for --augment but received ${values.augment}`);
  const started = Date.now();
  await writeDataset({
    out: values.out,
    seed,
    count,
    concurrency,
    augment,
    onProgress: (done) => {
      if (done % 1000 === 0 || done === count) {
        process.stderr.write(`${done}/${count} scenes, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
    },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
