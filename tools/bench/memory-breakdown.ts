/**
 * Measurement, not a test: where a BLIP variant's memory goes, in one process, phase by phase.
 *
 *   nice -n 10 node --import tsx tools/bench/memory-breakdown.ts <variant-dir> [--arena 0|1] [--pattern 0|1] [--prepack 0|1]
 *     [--rows 16] [--batch 8]
 *
 * Prints RSS (anonymous and file-backed, from /proc/self/smaps_rollup) after each session loads, and the peak RSS
 * (VmHWM, reset before each phase by writing 5 to /proc/self/clear_refs) of: vision encoder passes at batch 1 and
 * `--batch`, cross K/V for `--rows` images, and `--rows` decoder rows for 20 steps.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest } from '../../src/variant/manifest.ts';
import { OnnxSession } from '../../src/runtime/onnx-session.ts';
import { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';
import { randomArray } from './common.ts';

const args = process.argv.slice(2);
const dir = args[0];
const flag = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const memory = { cpuArena: flag('--arena', 0) === 1, memoryPattern: flag('--pattern', 0) === 1, prepacking: flag('--prepack', 1) === 1 };
const rows = flag('--rows', 16);
const batch = flag('--batch', 8);
const MB = 1024 * 1024;

function status(): { rss: number; hwm: number; anon: number; file: number } {
  const text = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');
const show = (label: string) => {
  const s = status();
  process.stdout.write(`${label.padEnd(34)} rss ${(s.rss / MB).toFixed(0).padStart(5)} MB (anon ${(s.anon / MB).toFixed(0)}, file ${(s.file / MB).toFixed(0)})  peak ${(s.hwm / MB).toFixed(0).padStart(5)} MB\n`);
  return s;
};

process.stdout.write(`${dir} memory=${JSON.stringify(memory)} rows=${rows} batch=${batch}\n`);
const manifest = await readManifest(dir);
show('start');
const sessions: Record<string, OnnxSession> = {};
for (const [name, file] of Object.entries(manifest.graphs)) {
  if (!file) continue;
  resetPeak();
  sessions[name] = await OnnxSession.load(join(dir, file), { memory });
  show(`load ${name}`);
}
for (const s of Object.values(sessions)) await s.release();
show('released probes');
resetPeak();
const model = await BlipModel.load(dir, manifest, { memory });
const loaded = show('BlipModel loaded');
const { width, height } = manifest.preprocess;
const perImage = 3 * width * height;
for (const n of [1, batch, 1]) {
  resetPeak();
  await model.encodeImages(randomArray(n * perImage), n);
  const s = show(`vision batch ${n}`);
  process.stdout.write(`  -> peak above loaded ${((s.hwm - loaded.rss) / MB).toFixed(0)} MB, ${((s.hwm - loaded.rss) / MB / n).toFixed(0)} MB/image\n`);
}
const tokens = manifest.dims.imageTokens;
const states = randomArray(tokens * manifest.dims.visionHidden);
resetPeak();
const before = status();
const contexts = [];
for (let i = 0; i < rows; i++) contexts.push(...(await model.crossContexts(states, 1, tokens, [tokens])));
const afterContexts = show(`${rows} cross contexts held`);
process.stdout.write(`  -> ${((afterContexts.rss - before.rss) / MB / rows).toFixed(1)} MB per context\n`);
resetPeak();
const beforeDecode = status();
const decoder = model.createDecoder(contexts, { capacityHint: rows });
const bos = manifest.tokenizer.ids.bos;
await decoder.start(contexts.map((_, i) => ({ context: i, tokens: [bos] })));
const parents = contexts.map((_, i) => i);
for (let step = 1; step < 20; step++) await decoder.next(parents, parents.map(() => 1000 + step));
const decoded = show(`decoder ${rows} rows x 20 steps`);
process.stdout.write(`  -> peak above before decode ${((decoded.hwm - beforeDecode.rss) / MB).toFixed(0)} MB, ${((decoded.hwm - beforeDecode.rss) / MB / rows).toFixed(1)} MB/row\n`);
decoder.dispose();
