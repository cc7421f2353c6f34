import { readFile } from 'node:fs/promises';
import type { GenerationOptions } from '../generation/generate.ts';
import { deserializeError } from '../models/blip/runtime/pipeline.ts';
import { BlipWorker } from '../backend/worker/worker-backend.ts';
import { DEFAULT_IMAGE_LIMITS } from '../config/defaults.ts';

interface GenerateFlags {
  prompt?: string;
  numBeams?: number;
  maxLength?: number;
  minLength?: number;
  maxNewTokens?: number;
  repetitionPenalty?: number;
  lengthPenalty?: number;
  json?: boolean;
}

/** `caption` and `answer`: one image through a variant, in an inference worker like the server uses. */
export async function runGenerate(task: 'caption' | 'answer', variantDir: string, imageFile: string, question: string | undefined, flags: GenerateFlags): Promise<void> {
  const image = new Uint8Array(await readFile(imageFile));
  const options: GenerationOptions = {
    numBeams: flags.numBeams,
    maxLength: flags.maxLength,
    minLength: flags.minLength,
    maxNewTokens: flags.maxNewTokens,
    repetitionPenalty: flags.repetitionPenalty,
    lengthPenalty: flags.lengthPenalty,
  };
  const worker = await BlipWorker.start(variantDir, { imageLimits: DEFAULT_IMAGE_LIMITS });
  try {
    const [result] =
      task === 'caption'
        ? await worker.caption([{ image, prompt: flags.prompt, options }])
        : await worker.answer([{ image, question: question ?? '', options }]);
    if (!result.ok) throw deserializeError(result.error);
    const { text, sequence } = result.value;
    process.stdout.write(flags.json ? `${JSON.stringify({ text, sequence })}\n` : `${text}\n`);
  } finally {
    await worker.terminate();
  }
}
