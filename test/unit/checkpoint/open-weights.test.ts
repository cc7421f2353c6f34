import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { openWeights } from '../../../src/checkpoint/open-weights.ts';
import { ErrorCode } from '../../../src/errors.ts';
import { float32Bytes, writeSafetensors } from '../../helpers/safetensors-writer.ts';

const CAPTION = join(import.meta.dirname, '../../fixtures/blip-tiny/caption');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blip-open-weights-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openWeights', () => {
  it('prefers model.safetensors when both formats are present', async () => {
    const weights = await openWeights(CAPTION);
    try {
      expect(weights.file).toBe(join(CAPTION, 'model.safetensors'));
      expect(weights.list()).toHaveLength(92);
    } finally {
      await weights.close();
    }
  });

  it('falls back to pytorch_model.bin', async () => {
    const folder = join(dir, 'torch-only');
    await mkdir(folder);
    await copyFile(join(CAPTION, 'pytorch_model.bin'), join(folder, 'pytorch_model.bin'));
    const weights = await openWeights(folder);
    const reference = await openSafetensors(join(CAPTION, 'model.safetensors'));
    try {
      expect(weights.file).toBe(join(folder, 'pytorch_model.bin'));
      const name = 'text_decoder.cls.predictions.decoder.weight';
      expect(await weights.readFloat32(name)).toEqual(await reference.readFloat32(name));
    } finally {
      await weights.close();
      await reference.close();
    }
  });

  it('names the folder and both file names when there are no weights', async () => {
    const folder = join(dir, 'empty');
    await mkdir(folder);
    await expect(openWeights(folder)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CHECKPOINT,
      message: `${folder}: Expected model.safetensors or pytorch_model.bin (or a sharded *.index.json of either) in the model folder but found neither`,
    });
  });

  it('reads a sharded safetensors checkpoint through its index', async () => {
    const folder = join(dir, 'sharded');
    await mkdir(folder);
    const whole = await openSafetensors(join(CAPTION, 'model.safetensors'));
    try {
      const infos = whole.list();
      const half = Math.ceil(infos.length / 2);
      const shards = [infos.slice(0, half), infos.slice(half)];
      const weightMap: Record<string, string> = {};
      for (const [index, shard] of shards.entries()) {
        const file = `model-0000${index + 1}-of-00002.safetensors`;
        const tensors = await Promise.all(
          shard.map(async (info) => ({ ...info, data: float32Bytes(await whole.readFloat32(info.name)) })),
        );
        await writeSafetensors(join(folder, file), tensors);
        for (const info of shard) weightMap[info.name] = file;
      }
      await writeFile(join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
      const sharded = await openWeights(folder);
      try {
        expect(sharded.file).toBe(join(folder, 'model.safetensors.index.json'));
        expect(new Set(sharded.list().map((info) => info.name))).toEqual(new Set(infos.map((info) => info.name)));
        for (const info of infos) {
          expect(sharded.get(info.name)).toEqual(info);
          expect(await sharded.readFloat32(info.name)).toEqual(await whole.readFloat32(info.name));
        }
      } finally {
        await sharded.close();
      }
    } finally {
      await whole.close();
    }
  });

  it('refuses shard names that leave the model folder, and tensors missing from their shard', async () => {
    const escape = join(dir, 'escape');
    await mkdir(escape);
    await writeFile(join(escape, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../model.safetensors' } }));
    await expect(openWeights(escape)).rejects.toThrow(/Expected a file name in the model folder for weight_map\['w'\] but received "\.\.\/model\.safetensors"/);

    const wrong = join(dir, 'wrong-shard');
    await mkdir(wrong);
    await copyFile(join(CAPTION, 'model.safetensors'), join(wrong, 'shard.safetensors'));
    await writeFile(join(wrong, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'not.there': 'shard.safetensors' } }));
    await expect(openWeights(wrong)).rejects.toThrow(/the index puts tensor 'not\.there' in shard\.safetensors but that shard does not hold it/);
  });
});
