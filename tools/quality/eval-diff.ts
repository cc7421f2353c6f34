/**
 * `node --import tsx tools/quality/eval-diff.ts FP32.json INT8.json [--points 1]`: compares two `npm run eval -- --json`
 * reports metric by metric (VQA exact match overall and per question type, every caption metric) and fails when any
 * int8 figure is more than `--points` percentage points below or above its fp32 twin.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { points: { type: 'string', default: '1' } } });
if (positionals.length !== 2) throw new Error('usage: eval-diff.ts FP32.json INT8.json [--points 1]');
const [fp32, int8] = await Promise.all(positionals.map(async (file) => JSON.parse(await readFile(file, 'utf8'))));
if (fp32.seed !== int8.seed || fp32.scenes !== int8.scenes) throw new Error(`the reports cover different scenes (seed ${fp32.seed}/${int8.seed}, ${fp32.scenes}/${int8.scenes})`);

const metrics = (report: any): Record<string, number> => ({
  vqa_exact_match: report.vqa_exact_match,
  ...Object.fromEntries(Object.entries(report.vqa).map(([type, e]: [string, any]) => [`vqa.${type}`, e.accuracy])),
  ...Object.fromEntries(Object.entries(report.caption).map(([name, v]) => [`caption.${name}`, v as number])),
});
const a = metrics(fp32);
const b = metrics(int8);
const limit = Number(values.points);
let worst = 0;
for (const name of Object.keys(a)) {
  const delta = 100 * (b[name] - a[name]);
  worst = Math.max(worst, Math.abs(delta));
  process.stdout.write(`${name.padEnd(28)} fp32 ${(100 * a[name]).toFixed(2).padStart(6)}  int8 ${(100 * b[name]).toFixed(2).padStart(6)}  Δ ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} points\n`);
}
// Rounded: 0.89 − 0.88 is 1.0000000000000009 points in floating point.
const passed = Math.round(worst * 1e6) / 1e6 <= limit;
process.stdout.write(`${fp32.scenes} scenes, seed ${fp32.seed}: largest difference ${worst.toFixed(2)} points (limit ${limit}): ${passed ? 'PASSED' : 'FAILED'}\n`);
process.exitCode = passed ? 0 : 1;
