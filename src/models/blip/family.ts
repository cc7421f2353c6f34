import type { ModelFamily } from '../family.ts';
import { BlipPipeline } from './runtime/pipeline.ts';
import { blipWorkingMemory } from './working-memory.ts';

/** BLIP (captioning and VQA): the converted graphs of `convert/`, run by `runtime/` and batched by `engine/`. */
export const blipFamily: ModelFamily = {
  name: 'blip',
  loadRuntime: (dir, options, onWarning) => BlipPipeline.load(dir, options, onWarning),
  workingMemory: blipWorkingMemory,
};
