import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../../../../src/checkpoint/safetensors.ts';
import { convertCheckpoint } from '../../../../../src/models/blip/convert/convert-checkpoint.ts';
import { CAPTION_CHECKPOINT } from '../../../../helpers/fixtures.ts';
import { PickleWriter } from '../../../../helpers/pickle-writer.ts';
import { float32Bytes, writeSafetensors } from '../../../../helpers/safetensors-writer.ts';
import { writeZip } from '../../../../helpers/zip-writer.ts';

/** `convert` refuses bad checkpoints with INVALID_CHECKPOINT, naming the file and what was expected. */
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function checkpointCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'blip-bad-'));
  scratch.push(dir);
  await cp(CAPTION_CHECKPOINT, dir, { recursive: true, filter: (p) => !p.includes('/refs') && !p.endsWith('references.json') });
  return dir;
}

const convert = (dir: string) => convertCheckpoint({ source: { kind: 'checkpoint', dir }, outDir: join(dir, 'out') });

describe('convert refuses bad checkpoints', () => {
  it('missing config.json', async () => {
    const dir = await checkpointCopy();
    await unlink(join(dir, 'config.json'));
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringContaining(join(dir, 'config.json')) });
  });

  it('no weights file', async () => {
    const dir = await checkpointCopy();
    await unlink(join(dir, 'model.safetensors'));
    await unlink(join(dir, 'pytorch_model.bin'));
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringMatching(/model\.safetensors.*pytorch_model\.bin/) });
  });

  it('unsupported model_type and architecture', async () => {
    const dir = await checkpointCopy();
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'blip-2' }));
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringContaining('blip-2') });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['BlipForImageTextRetrieval'] }));
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringContaining('BlipForImageTextRetrieval') });
  });

  it('truncated model.safetensors', async () => {
    const dir = await checkpointCopy();
    await unlink(join(dir, 'pytorch_model.bin'));
    await truncate(join(dir, 'model.safetensors'), 200_000);
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringContaining('model.safetensors') });
  });

  it('a weight whose shape does not match the config', async () => {
    const dir = await checkpointCopy();
    await unlink(join(dir, 'pytorch_model.bin'));
    const source = await openSafetensors(join(dir, 'model.safetensors'));
    const tensors = await Promise.all(
      source.list().map(async (info) => {
        const data = float32Bytes(await source.readFloat32(info.name));
        // Same byte count, wrong shape: [64, 32] stored as [32, 64].
        const shape = info.name === 'text_decoder.bert.encoder.layer.1.intermediate.dense.weight' ? [...info.shape].reverse() : info.shape;
        return { name: info.name, dtype: 'F32' as const, shape, data };
      }),
    );
    await source.close();
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await expect(convert(dir)).rejects.toMatchObject({
      code: 'INVALID_CHECKPOINT',
      message: expect.stringMatching(/model\.safetensors.*text_decoder\.bert\.encoder\.layer\.1\.intermediate\.dense\.weight.*\[32, ?64\].*\[64, ?32\]/),
    });
  });

  it('a pytorch_model.bin whose pickle asks for anything but tensor rebuilding', async () => {
    const dir = await checkpointCopy();
    await unlink(join(dir, 'model.safetensors'));
    const pickle = new PickleWriter().proto(2).global('os', 'system').mark().str('echo pwned').tuple().reduce().stop().bytes();
    await writeZip(join(dir, 'pytorch_model.bin'), [{ name: 'pytorch_model/data.pkl', data: pickle }]);
    await expect(convert(dir)).rejects.toMatchObject({ code: 'INVALID_CHECKPOINT', message: expect.stringMatching(/pytorch_model\.bin.*os\.system/) });
  });
});
