import { Command, InvalidArgumentError } from 'commander';
import { ServiceError } from '../errors.ts';
import { PRECISIONS, type Precision } from '../variant/manifest.ts';
import { runConvert } from './convert-command.ts';
import { runGenerate } from './generate-command.ts';
import { runOptimize } from './optimize-command.ts';
import { runPrepare } from './prepare-command.ts';
import { HubError } from '../hub/hub-error.ts';
import { runList } from './list-command.ts';
import { runPull } from './pull-command.ts';
import { runRemove } from './remove-command.ts';

/** `blip-gateway`: convert checkpoints into variant folders and run them from the command line. */
const program = new Command('blip-gateway').description('BLIP captioning and VQA on ONNX Runtime').showHelpAfterError();

const integer = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`Expected an integer for ${name} but received ${value}`);
  return Number(value);
};
const precision = (value: string): Precision => {
  if (!PRECISIONS.includes(value as Precision)) throw new InvalidArgumentError(`Expected ${PRECISIONS.join(' or ')} for --precision but received ${value}`);
  return value as Precision;
};
const number = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`Expected a number for ${name} but received ${value}`);
  return n;
};

program
  .command('convert')
  .description('convert a Hugging Face BLIP checkpoint folder (or a config with random weights) into a variant folder')
  .argument('[hf-dir]', 'checkpoint folder: config.json, model.safetensors or pytorch_model.bin, tokenizer and preprocessor files')
  .requiredOption('--out <variant-dir>', 'folder to write (created if missing)')
  .option('--name <name>', 'variant name in the manifest (default: the folder name)')
  .option('--random-weights', 'seeded random weights instead of the checkpoint weights (for benchmarks)')
  .option('--config <file>', 'config.json to build with --random-weights (default: <hf-dir>/config.json)')
  .option('--seed <n>', 'seed for --random-weights', integer('--seed'), 0)
  .option('--precision <p>', 'fp32, or int8: MatMul weights quantized to int8 (about a quarter of the size)', precision, 'fp32')
  .action(async (hfDir: string | undefined, options) => {
    await runConvert(hfDir, options);
  });

program
  .command('optimize')
  .description("write ONNX Runtime's optimized graphs of a converted variant for this machine (fast loading; convert does it too)")
  .argument('<variant-dir>', 'a folder written by convert')
  .action(async (variantDir: string) => {
    await runOptimize(variantDir);
  });

program
  .command('prepare')
  .description('convert the embedded variants whose files are missing or out of date (as the server does at start-up), then exit')
  .option('--registry <dir>', 'registry folder (default: REGISTRY_DIR, else registry/ of the repository)')
  .action(async (options) => {
    await runPrepare(options);
  });

program
  .command('pull')
  .description('download a BLIP model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE) and convert it into REGISTRY_DIR')
  .argument('<variant|repo-id>', 'a registry variant (blip-base) or a Hugging Face repository id (with --name)')
  .option('--revision <rev>', 'branch, tag or commit (default: main)')
  .option('--precision <precision>', `${PRECISIONS.join(' or ')} (default: fp32)`, (value: string): Precision => {
    if (!(PRECISIONS as readonly string[]).includes(value)) throw new InvalidArgumentError(`Expected ${PRECISIONS.join(' or ')} for --precision but received ${value}`);
    return value as Precision;
  })
  .option('--name <name>', 'install as this variant (a repository id becomes a new variant with its own variant.json)')
  .option('--json', 'print one JSON progress event per line on stdout')
  .action(async (target: string, options) => {
    await runPull(target, options);
  });

program
  .command('list')
  .description('every variant of REGISTRY_DIR: installed, precision, revision, bytes on disk')
  .option('--json', 'print a JSON array')
  .action(async (options) => {
    await runList(options);
  });

program
  .command('remove')
  .description("delete a variant's converted files (a shipped variant keeps its variant.json)")
  .argument('<name>', 'variant name or alias')
  .action(async (name: string) => {
    await runRemove(name);
  });

for (const task of ['caption', 'answer'] as const) {
  const command = program.command(task);
  command.description(task === 'caption' ? 'caption an image' : 'answer a question about an image').argument('<variant-dir>', 'a folder written by convert').argument('<image>', 'image file');
  if (task === 'answer') command.argument('<question>', 'the question');
  if (task === 'caption') command.option('--prompt <text>', 'text the caption starts with (kept in the output, as transformers does)');
  command
    .option('--num-beams <n>', 'beam search width (1 = greedy)', integer('--num-beams'))
    .option('--max-length <n>', 'maximum sequence length, counting [DEC] and the prompt', integer('--max-length'))
    .option('--min-length <n>', 'minimum sequence length, counting [DEC] and the prompt', integer('--min-length'))
    .option('--max-new-tokens <n>', 'maximum number of generated tokens (overrides --max-length)', integer('--max-new-tokens'))
    .option('--repetition-penalty <x>', 'penalty for tokens already in the sequence (1 = none)', number('--repetition-penalty'))
    .option('--length-penalty <x>', 'beam search length penalty exponent', number('--length-penalty'))
    .option('--json', 'print one JSON object: {"text": ..., "sequence": [...]}')
    .action(async (...args: unknown[]) => {
      const [variantDir, image] = args as [string, string];
      const question = task === 'answer' ? (args[2] as string) : undefined;
      const options = (task === 'answer' ? args[3] : args[2]) as Record<string, unknown>;
      await runGenerate(task, variantDir, image, question, options);
    });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message =
    error instanceof ServiceError || error instanceof HubError
      ? `${error instanceof HubError ? error.kind : error.code}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  process.stderr.write(`blip-gateway: ${message}\n`);
  process.exitCode = error instanceof HubError ? error.exitCode : 1;
}
