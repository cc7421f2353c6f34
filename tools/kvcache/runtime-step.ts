/**
 * `node --import tsx tools/kvcache/runtime-step.ts --variant DIR [--variant DIR2 …] [--rows 1,4,16] [--cache 24]
 *   [--steps 6] [--reps 3] [--threads 1] [--beams]`
 *
 * Whole decode steps through the runtime, as the serving process runs them: BlipModel's sessions (serving memory
 * settings) and OnnxTokenDecoder, so each step is the graph run plus the self-attention cache's work in JS (building
 * the mask, writing the new column, growing the buffer). With `--beams` the rows are the beams of one request (one
 * image) and at every step half of them fork and half are dropped (row i continues row ⌊i/2⌋), so half the rows of the
 * cache are copied in place each step, which is beam search's cost; without it every row continues itself (greedy).
 * Each repetition starts `rows` rows from prompts of `--cache` − 1 tokens, then
 * times `--steps` steps (cache lengths `--cache` … `--cache` + steps − 1). Variants and row counts are interleaved.
 * Prints per variant and rows: CPU ms and minor page faults per step, median [min–max] over every timed step, and the
 * cache's capacity. Converter version 5 variants only (the form the runtime feeds).
 *
 * Run it under the serving process's `MALLOC_MMAP_THRESHOLD_=1048576` to see what the server sees.
 */
import { parseArgs } from 'node:util';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { readManifest, type VariantManifest } from '../../src/variant/manifest.ts';
import type { CrossContext } from '../../src/models/blip/runtime/cross-context.ts';
import { median, medianRange, randn } from '../profiling/probe-math.ts';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rows: { type: 'string', default: '1,4,16' },
    cache: { type: 'string', default: '24' },
    steps: { type: 'string', default: '6' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    beams: { type: 'boolean', default: false },
  },
});
if (!args.variant?.length) throw new Error('Expected at least one --variant DIR');
const ROWS = args.rows!.split(',').map(Number);
const CACHE = Number(args.cache);
const STEPS = Number(args.steps);
if (!(CACHE >= 2)) throw new Error('Expected --cache of at least 2 (a prompt of one token or more, and the step)');

interface Loaded {
  manifest: VariantManifest;
  model: BlipModel;
  contexts: CrossContext[];
}
const variants: Loaded[] = [];
for (const dir of args.variant) {
  const manifest = await readManifest(dir);
  const model = await BlipModel.load(dir, manifest, { intraOpThreads: Number(args.threads) });
  const tokens = model.imageTokens;
  const maxRows = Math.max(...ROWS);
  const contexts = await model.crossContexts(randn(maxRows * tokens * manifest.dims.visionHidden, 7), maxRows, tokens, new Array(maxRows).fill(tokens));
  variants.push({ manifest, model, contexts });
}

const cpu = new Map<string, number[]>();
const faults = new Map<string, number[]>();
const capacity = new Map<string, number>();
const push = (map: Map<string, number[]>, key: string, value: number) => map.set(key, [...(map.get(key) ?? []), value]);

/** One repetition: prompts of CACHE − 1 tokens, then STEPS timed steps (the first step of each repetition included). */
async function run(v: Loaded, rows: number, timed: boolean): Promise<void> {
  const { bos } = v.manifest.tokenizer.ids;
  const decoder = v.model.createDecoder([], { capacityHint: rows });
  const ids = args.beams ? new Array<number>(rows).fill(decoder.addContext(v.contexts[0])) : v.contexts.slice(0, rows).map((context) => decoder.addContext(context));
  const prompt = [bos, ...Array.from({ length: CACHE - 2 }, (_, i) => 1000 + i)];
  await decoder.start(ids.map((context) => ({ context, tokens: prompt })));
  const parents = ids.map((_, i) => (args.beams ? Math.floor(i / 2) : i));
  for (let step = 0; step < STEPS; step++) {
    const startedCpu = process.cpuUsage();
    const startedFaults = process.resourceUsage().minorPageFault;
    await decoder.next(parents, parents.map(() => 2000 + step));
    const used = process.cpuUsage(startedCpu);
    if (!timed) continue;
    const key = `${v.manifest.name}/${v.manifest.precision}/${rows}`;
    push(cpu, key, (used.user + used.system) / 1000);
    push(faults, key, process.resourceUsage().minorPageFault - startedFaults);
    capacity.set(key, decoder.cacheCapacity);
  }
  decoder.dispose();
}

for (const v of variants) for (const rows of ROWS) await run(v, rows, false);
for (let rep = 0; rep < Number(args.reps); rep++) for (const rows of ROWS) for (const v of variants) await run(v, rows, true);

console.log(
  `runtime decode steps, cache ${CACHE}…${CACHE + STEPS - 1}, ${args.beams ? 'beams of one request, half forking (row i continues row ⌊i/2⌋)' : 'rows in place (greedy)'}, ${args.reps} interleaved reps × ${STEPS} steps, ${args.threads} thread(s)`,
);
console.log('variant | rows | CPU ms per step median [min–max] | minor faults per step median [min–max] | cache capacity (columns) | × 1-row step (CPU)');
for (const v of variants) {
  const key = (rows: number) => `${v.manifest.name}/${v.manifest.precision}/${rows}`;
  const one = median(cpu.get(key(ROWS[0]))!);
  for (const rows of ROWS) {
    const c = cpu.get(key(rows))!;
    console.log(`${v.manifest.name} ${v.manifest.precision} | ${rows} | ${medianRange(c, 1)} | ${medianRange(faults.get(key(rows))!, 0)} | ${capacity.get(key(rows))} | ${(median(c) / one).toFixed(2)}`);
  }
}
for (const v of variants) await v.model.release();
