import { describeScene, type QuestionAnswer } from './describe.ts';
import { completeSceneSpec, sampleSceneSpec, type SampleOptions } from './layout.ts';
import { renderSceneImage } from './render.ts';
import { createRng } from './rng.ts';
import type { SceneRequest, SceneSpec } from './spec.ts';

export interface Scene {
  spec: SceneSpec;
  image: Buffer;
  format: 'png' | 'jpeg';
  caption: string;
  questions: QuestionAnswer[];
}

/** A random scene; the same seed always gives the same spec, bytes, caption and questions (on one sharp build). */
export async function generateScene(seed: number, options: SampleOptions = {}): Promise<Scene> {
  const rng = createRng(seed);
  const spec = sampleSceneSpec(rng, options);
  return buildScene(spec, describeScene(spec, rng));
}

/** A scene with explicitly chosen shapes, e.g. `renderScene({ shapes: [{ shape: 'circle', color: 'red' }] })`. */
export async function renderScene(request: SceneRequest): Promise<Scene> {
  const spec = completeSceneSpec(request);
  return buildScene(spec, describeScene(spec));
}

async function buildScene(spec: SceneSpec, description: ReturnType<typeof describeScene>): Promise<Scene> {
  const image = await renderSceneImage(spec);
  return { spec, image, format: spec.render.format, ...description };
}
