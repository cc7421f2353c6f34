/**
 * `npm run eval [-- --renderer training|second] [-- --count N] [-- --seed S] [-- --caption DIR] [-- --vqa DIR]
 * [-- --json FILE]`: accuracy of the demo variants on a fresh held-out set of scenes, through the converted ONNX models
 * and our own runtime (greedy decoding, max_length 20, as transformers would run them). `--renderer training` (default)
 * draws the scenes with the training generator (tools/scenes, plain variant, a seed never trained on);
 * `--renderer second` with the independent rasterizer of tools/second-renderer, which no training ever sees.
 * Metrics are defined as in
 * tools/demo-model/evaluate.py, so numbers compare with the training tool's:
 *   - VQA exact match per question type: the decoded answer equals the generator's answer;
 *   - caption object recall ("attribute recall"): of all objects, the share whose "<colour> <shape>" appears as two
 *     consecutive words of the caption; also colour recall, shape recall, size accuracy, background accuracy,
 *     object precision and exact match.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ItemResult } from '../../src/backend/items.ts';
import { BlipPipeline } from '../../src/models/blip/runtime/pipeline.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/config/defaults.ts';
import { createModelRegistry } from '../../src/registry/model-registry.ts';
import { datasetScene, type Scene } from '../scenes/index.ts';
import { secondScene } from '../second-renderer/index.ts';
import { SHAPE_COLORS, SHAPE_KINDS } from '../scenes/vocabulary.ts';
import { WorkerBackend } from '../../src/backend/worker/worker-backend.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '300' },
    seed: { type: 'string', default: '424242' },
    caption: { type: 'string', default: join(REPO, 'registry/blip-demo') },
    vqa: { type: 'string', default: join(REPO, 'registry/blip-demo-vqa') },
    json: { type: 'string' },
    renderer: { type: 'string', default: 'training' },
  },
});
const RENDERERS: Record<string, (seed: number, index: number) => Promise<Scene>> = { training: datasetScene, second: secondScene };
const drawScene = RENDERERS[args.renderer!];
if (drawScene === undefined) throw new TypeError(`Expected --renderer training or second but received ${args.renderer}`);
const count = Number(args.count);
const seed = Number(args.seed);
const BATCH = 16;

// The demo variants are converted at server start-up; convert them here too when this runs on a fresh clone.
const registry = await createModelRegistry({ root: join(REPO, 'registry'), repoRoot: REPO, pipeline: { imageLimits: DEFAULT_IMAGE_LIMITS }, startBackend: (dir, options) => WorkerBackend.start(dir, options) });
await registry.prepareEmbedded();
await registry.close();

const scenes: Scene[] = [];
for (let i = 0; i < count; i++) scenes.push(await drawScene(seed, i));
process.stderr.write(`[eval] ${count} held-out scenes (${args.renderer} renderer, seed ${seed})\n`);

const unwrap = (result: ItemResult): string => (result.ok ? result.value.text.trim() : `<error ${result.error.code}>`);

// Captions.
const captioner = await BlipPipeline.load(args.caption!, { imageLimits: DEFAULT_IMAGE_LIMITS });
const captions: string[] = [];
for (let start = 0; start < scenes.length; start += BATCH) {
  const batch = scenes.slice(start, start + BATCH);
  const results = await captioner.caption(batch.map((scene) => ({ image: new Uint8Array(scene.image) })));
  captions.push(...results.map(unwrap));
}
await captioner.release();

// Answers: every question of every scene, asked on its own.
const answerer = await BlipPipeline.load(args.vqa!, { imageLimits: DEFAULT_IMAGE_LIMITS });
const asked = scenes.flatMap((scene) => scene.questions.map((qa) => ({ scene, qa })));
const answers: string[] = [];
for (let start = 0; start < asked.length; start += BATCH) {
  const batch = asked.slice(start, start + BATCH);
  const results = await answerer.answer(batch.map(({ scene, qa }) => ({ image: new Uint8Array(scene.image), question: qa.question })));
  answers.push(...results.map(unwrap));
}
await answerer.release();

const vqa: Record<string, { correct: number; total: number; accuracy: number }> = {};
asked.forEach(({ qa }, i) => {
  const entry = (vqa[qa.type] ??= { correct: 0, total: 0, accuracy: 0 });
  entry.total++;
  if (answers[i] === qa.answer) entry.correct++;
});
for (const entry of Object.values(vqa)) entry.accuracy = round(entry.correct / entry.total);
const vqaOverall = round(asked.filter(({ qa }, i) => answers[i] === qa.answer).length / asked.length);

let objects = 0;
const hits = { object: 0, color: 0, shape: 0, size: 0 };
let predictedPairs = 0;
let truePairs = 0;
let background = 0;
let exact = 0;
scenes.forEach((scene, i) => {
  // Words as the training tool's evaluate.py takes them: runs of letters (commas and periods are not part of words).
  const words: string[] = captions[i].toLowerCase().match(/[a-z]+/g) ?? [];
  const text = ` ${words.join(' ')} `;
  for (const shape of scene.spec.shapes) {
    objects++;
    if (text.includes(` ${shape.color} ${shape.shape} `)) hits.object++;
    if (words.includes(shape.color)) hits.color++;
    if (words.includes(shape.shape)) hits.shape++;
    if (text.includes(` ${shape.size} ${shape.color} ${shape.shape} `)) hits.size++;
  }
  for (let w = 0; w + 1 < words.length; w++) {
    if ((SHAPE_COLORS as readonly string[]).includes(words[w]) && (SHAPE_KINDS as readonly string[]).includes(words[w + 1])) {
      predictedPairs++;
      if (scene.spec.shapes.some((s) => s.color === words[w] && s.shape === words[w + 1])) truePairs++;
    }
  }
  if (text.includes(` on a ${scene.spec.background.color} background `)) background++;
  if (captions[i] === scene.caption) exact++;
});
const caption = {
  // The "caption attribute recall": each shape's colour and shape word, together, in the caption.
  attribute_recall: round(hits.object / objects),
  object_recall: round(hits.object / objects),
  color_recall: round(hits.color / objects),
  shape_recall: round(hits.shape / objects),
  size_accuracy: round(hits.size / objects),
  object_precision: round(predictedPairs ? truePairs / predictedPairs : 0),
  background_accuracy: round(background / scenes.length),
  exact_match: round(exact / scenes.length),
};

const report = { renderer: args.renderer, seed, scenes: count, questions: asked.length, vqa_exact_match: vqaOverall, vqa, caption, examples: scenes.slice(0, 3).map((s, i) => ({ truth: s.caption, caption: captions[i] })) };
process.stdout.write(
  [
    `held-out scenes: ${count} (${args.renderer} renderer, seed ${seed}), questions: ${asked.length}`,
    `VQA exact match: ${vqaOverall}`,
    ...Object.entries(vqa).map(([type, e]) => `  ${type}: ${e.accuracy} (${e.correct}/${e.total})`),
    `caption attribute recall (each shape's "<colour> <shape>" in the caption): ${caption.attribute_recall}`,
    ...Object.entries(caption).filter(([k]) => k !== 'attribute_recall' && k !== 'object_recall').map(([k, v]) => `  ${k}: ${v}`),
  ].join('\n') + '\n',
);
if (args.json) await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);

function round(value: number): number {
  return Math.round(value * 10000) / 10000;
}
