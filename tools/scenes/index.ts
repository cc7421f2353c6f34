export { generateScene, renderScene, type Scene } from './scene.ts';
export { datasetScene, writeDataset, type DatasetOptions, type DatasetRecord } from './dataset.ts';
export { captionOf, describeScene, orderedShapes, TEMPLATES, type QuestionAnswer, type SceneDescription } from './describe.ts';
export { completeSceneSpec, sampleSceneSpec } from './layout.ts';
export { positionOf, sizeOf, RADIUS_RANGE, MIN_MAJOR_OFFSET, MINOR_TO_MAJOR_MAX } from './geometry.ts';
export { createRng, sceneSeed, type Rng } from './rng.ts';
export { sceneToSvg } from './svg.ts';
export type * from './spec.ts';
export * from './vocabulary.ts';
