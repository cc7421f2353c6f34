/**
 * `node --import tsx tools/bench/spinning-probe.ts [MODEL_DIR] [--reps N]`: does ONNX Runtime's thread spinning
 * (`allowSpinning`, on by default: INTRA_OP_SPINNING, or `runtime.allowSpinning` in variant.json) pay for itself?
 * One BlipModel per setting, in the same process, interleaved (the order alternates every repetition): a decode step
 * at 1 and 16 rows (8 timed steps after 2 untimed ones, per repetition) and the vision encoder at batch 1. Prints wall
 * and process CPU time per call: spinning buys wall time with CPU time, which the server's main thread and other
 * workers may want. The end-to-end c1 figure is `npm run bench -- --c1-only --spinning-ab`.
 */
import { parseArgs } from 'node:util';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import type { CrossContext } from '../../src/models/blip/runtime/cross-context.ts';
import { readManifest } from '../../src/variant/manifest.ts';
import { randomArray } from './common.ts';
import { summarize } from './stats.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { reps: { type: 'string', default: '4' } } });
const dir = positionals[0] ?? '/work/bench-cache/blip-image-captioning-base-random-int8-v5';
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`Expected a positive integer for --reps but received ${values.reps}`);
const manifest = await readManifest(dir);
const { imageTokens, visionHidden } = manifest.dims;
const { width, height } = manifest.preprocess;
const bos = manifest.tokenizer.ids.bos;

const arms: Array<{ name: string; model: BlipModel; contexts: CrossContext[] }> = [];
for (const allowSpinning of [true, false]) {
  const model = await BlipModel.load(dir, manifest, { allowSpinning });
  const contexts = await model.crossContexts(randomArray(16 * imageTokens * visionHidden), 16, imageTokens, new Array(16).fill(imageTokens));
  arms.push({ name: `spinning ${allowSpinning ? 'on ' : 'off'}`, model, contexts });
}
const pixels = randomArray(3 * width * height);
const samples = new Map<string, { wall: number[]; cpu: number[] }>();
const record = (key: string, wall: number, cpuMicros: number) => {
  const entry = samples.get(key) ?? { wall: [], cpu: [] };
  entry.wall.push(wall);
  entry.cpu.push(cpuMicros / 1000);
  samples.set(key, entry);
};
async function timed<T>(key: string | undefined, f: () => Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await f();
  const used = process.cpuUsage(cpu);
  if (key) record(key, performance.now() - started, used.user + used.system);
  return result;
}

for (let rep = 0; rep < reps; rep++) {
  for (const arm of rep % 2 === 0 ? arms : [...arms].reverse()) {
    for (const rows of [1, 16]) {
      const decoder = arm.model.createDecoder([]);
      // Copies of the contexts: the decoder's batch takes over the arrays it is given.
      const ids = arm.contexts.slice(0, rows).map((context) => decoder.addContext({ ...context, keys: context.keys.map((k) => k.slice()), values: context.values.map((v) => v.slice()), keyScales: context.keyScales?.map((s) => s.slice()), valueScales: context.valueScales?.map((s) => s.slice()) }));
      await decoder.start(ids.map((context) => ({ tokens: [bos], context })));
      const parents = Array.from({ length: rows }, (_, i) => i);
      for (let step = 0; step < 10; step++) await timed(step >= 2 ? `${arm.name} | decode step, ${rows} row(s)` : undefined, () => decoder.next(parents, parents.map(() => 1000 + step)));
      decoder.dispose();
    }
    await timed(`${arm.name} | vision, batch 1`, () => arm.model.encodeImages(pixels, 1));
  }
}
process.stdout.write('preliminary unless the machine is quiet; ms per call as median [min–max]\n');
for (const [key, { wall, cpu }] of [...samples].sort(([a], [b]) => a.split('|')[1].localeCompare(b.split('|')[1]) || a.localeCompare(b))) {
  const w = summarize(wall, 2);
  const c = summarize(cpu, 2);
  process.stdout.write(`${key.padEnd(40)} wall ${w.median} [${w.min}–${w.max}]  process CPU ${c.median} [${c.min}–${c.max}]  (${wall.length} calls)\n`);
}
for (const arm of arms) await arm.model.release();
