import { join } from 'node:path';
import { convertCheckpoint, type ConvertSource } from '../models/blip/convert/convert-checkpoint.ts';
import type { Precision } from '../variant/manifest.ts';

interface ConvertFlags {
  out: string;
  name?: string;
  randomWeights?: boolean;
  config?: string;
  seed: number;
  precision?: Precision;
}

export async function runConvert(hfDir: string | undefined, flags: ConvertFlags): Promise<void> {
  let source: ConvertSource;
  if (flags.randomWeights) {
    const configFile = flags.config ?? (hfDir ? join(hfDir, 'config.json') : undefined);
    if (!configFile) throw new Error('--random-weights needs --config <file> or a checkpoint folder that holds config.json');
    source = { kind: 'random', configFile, seed: flags.seed, tokenizerDir: hfDir };
  } else {
    if (!hfDir) throw new Error('convert needs a checkpoint folder (or --random-weights --config <file>)');
    if (flags.config) throw new Error('--config only goes with --random-weights; a checkpoint is converted with its own config.json');
    source = { kind: 'checkpoint', dir: hfDir };
  }

  const started = Date.now();
  let lastReport = 0;
  const manifest = await convertCheckpoint({
    source,
    outDir: flags.out,
    name: flags.name,
    precision: flags.precision,
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
    onProgress: ({ graph, done, total }) => {
      const now = Date.now();
      if (now - lastReport < 500 && done < total) return;
      lastReport = now;
      const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
      process.stderr.write(`converting ${graph}: ${mb(done)}/${mb(total)} MB of weights (${Math.round((100 * done) / total)}%)\n`);
    },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`wrote ${flags.out}: ${manifest.name} (${manifest.task}, ${manifest.precision}, ${(manifest.parameters / 1e6).toFixed(1)} M parameters) in ${seconds} s\n`);
}
