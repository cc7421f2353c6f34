import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, sceneSeed } from './rng.ts';
import { generateScene, type Scene } from './scene.ts';

/** One line of index.jsonl: everything the trainer and the evaluation need about a scene, image path relative. */
export interface DatasetRecord {
  index: number;
  seed: number;
  file: string;
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  caption: string;
  questions: Scene['questions'];
  spec: Scene['spec'];
}

export interface DatasetOptions {
  out: string;
  seed: number;
  count: number;
  /** Share of scenes drawn by the augmented generator (augment.ts), 0..1; default 0 (the plain generator). */
  augment?: number;
  /** Scenes rendered at once (sharp runs them on its own thread pool). */
  concurrency?: number;
  onProgress?: (done: number) => void;
}

/** Scene `index` of the dataset with seed `datasetSeed` (what the CLI writes as record `index`). */
export function datasetScene(datasetSeed: number, index: number): Promise<Scene> {
  return generateScene(sceneSeed(datasetSeed, index));
}

/** Writes DIR/images/NNNNNN.{png,jpg}, DIR/index.jsonl (in index order) and DIR/meta.json. */
export async function writeDataset(options: DatasetOptions): Promise<void> {
  const { out, seed, count } = options;
  const concurrency = options.concurrency ?? 4;
  const augment = options.augment ?? 0;
  await mkdir(join(out, 'images'), { recursive: true });
  const index = await open(join(out, 'index.jsonl'), 'w');
  try {
    for (let start = 0; start < count; start += concurrency) {
      const ids = Array.from({ length: Math.min(concurrency, count - start) }, (_, k) => start + k);
      const records = await Promise.all(ids.map((i) => writeOne(out, seed, i, augment)));
      await index.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      options.onProgress?.(start + ids.length);
    }
  } finally {
    await index.close();
  }
  await writeFile(join(out, 'meta.json'), `${JSON.stringify({ seed, count, augment, generator: 'tools/scenes' }, null, 2)}\n`);
}

async function writeOne(out: string, datasetSeed: number, i: number, augment: number): Promise<DatasetRecord> {
  const seed = sceneSeed(datasetSeed, i);
  // Which scenes are augmented is itself a function of the scene seed, so a dataset is reproducible from (seed, augment).
  const scene = await generateScene(seed, { augment: createRng(seed ^ 0x5bd1e995).next() < augment });
  const file = `images/${String(i).padStart(6, '0')}.${scene.format === 'png' ? 'png' : 'jpg'}`;
  await writeFile(join(out, file), scene.image);
  return {
    index: i,
    seed,
    file,
    format: scene.format,
    width: scene.spec.render.width,
    height: scene.spec.render.height,
    caption: scene.caption,
    questions: scene.questions,
    spec: scene.spec,
  };
}
