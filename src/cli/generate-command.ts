import { readFile } from 'node:fs/promises';
import type { GenerationOptions } from '../generation/generate.ts';
import { deserializeError } from '../backend/items.ts';
import { WorkerBackend } from '../backend/worker/worker-backend.ts';
import { DEFAULT_IMAGE_LIMITS } from '../config/defaults.ts';
import { ErrorCode, ServiceError } from '../errors.ts';

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
  const worker = await WorkerBackend.start(variantDir, { imageLimits: DEFAULT_IMAGE_LIMITS });
  try {
    // The CLI is its own front door: it checks what the gateway checks for server requests.
    const { name, task: variantTask } = worker.variant;
    if ((task === 'caption') !== (variantTask === 'caption')) {
      throw new ServiceError(ErrorCode.WRONG_TASK, `${name} is a ${variantTask} model and cannot ${task === 'answer' ? 'answer questions' : 'caption images'}`);
    }
    if (task === 'answer' && (question ?? '').trim() === '') throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected a non-empty question');
    const [result] =
      task === 'caption'
        ? await worker.caption([{ image, prompt: flags.prompt, options }])
        : await worker.answer([{ image, question: question ?? '', options }]);
    if (!result.ok) throw deserializeError(result.error);
    const { text, sequence } = result.value;
    process.stdout.write(flags.json ? `${JSON.stringify({ text, sequence })}\n` : `${text}\n`);
  } finally {
    await worker.close();
  }
}
