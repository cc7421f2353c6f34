export { secondScene, rasterize, specOf } from './scene.ts';
export { sampleLayout, SECOND_RADIUS, type PlacedShape, type SecondLayout } from './layout.ts';
export { outlineOf, type Outline } from './outline.ts';
export { SHADE_RANGES, BACKGROUND_LEVELS, shadeOf } from './palette.ts';
export { secondRng, secondSceneSeed, type SecondRng } from './rng.ts';
