/**
 * Picks the weights file of a Hugging Face model folder, in the order transformers prefers: safetensors, then the
 * PyTorch pickle; each either whole or sharded (`*.index.json` + shards).
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { checkpointError } from '../errors.ts';
import { describeValue } from './describe-value.ts';
import { openSafetensors } from './safetensors.ts';
import { openTorchCheckpoint } from './torch-checkpoint.ts';
import type { WeightInfo, WeightSource } from './weight-source.ts';

export const SAFETENSORS_FILE = 'model.safetensors';
export const TORCH_FILE = 'pytorch_model.bin';

type Opener = (file: string) => Promise<WeightSource>;

const CANDIDATES: ReadonlyArray<{ file: string; open: Opener; sharded: boolean }> = [
  { file: SAFETENSORS_FILE, open: openSafetensors, sharded: false },
  { file: `${SAFETENSORS_FILE}.index.json`, open: openSafetensors, sharded: true },
  { file: TORCH_FILE, open: openTorchCheckpoint, sharded: false },
  { file: `${TORCH_FILE}.index.json`, open: openTorchCheckpoint, sharded: true },
];

export async function openWeights(dir: string): Promise<WeightSource> {
  for (const candidate of CANDIDATES) {
    const file = join(dir, candidate.file);
    if (!(await exists(file))) continue;
    return candidate.sharded ? openSharded(file, candidate.open) : candidate.open(file);
  }
  throw checkpointError(
    dir,
    `Expected ${SAFETENSORS_FILE} or ${TORCH_FILE} (or a sharded *.index.json of either) in the model folder ` +
      'but found neither',
  );
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

// Private: `{ "weight_map": { tensor name: shard file name } }`, shards next to the index.
async function openSharded(indexFile: string, openShard: Opener): Promise<WeightSource> {
  const weightMap = await readWeightMap(indexFile);
  const shardFiles = [...new Set(weightMap.values())];
  const shards = new Map<string, WeightSource>();
  try {
    for (const shardFile of shardFiles) shards.set(shardFile, await openShard(join(indexFile, '..', shardFile)));
    const owners = new Map<string, WeightSource>();
    for (const [name, shardFile] of weightMap) {
      const shard = shards.get(shardFile)!;
      if (shard.get(name) === undefined) {
        throw checkpointError(
          indexFile,
          `the index puts tensor '${name}' in ${shardFile} but that shard does not hold it`,
        );
      }
      owners.set(name, shard);
    }
    return new ShardedSource(indexFile, owners, [...shards.values()]);
  } catch (error) {
    await Promise.all([...shards.values()].map((shard) => shard.close()));
    throw error;
  }
}

async function readWeightMap(indexFile: string): Promise<Map<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexFile, 'utf8'));
  } catch (error) {
    throw checkpointError(indexFile, `cannot read the shard index (${(error as Error).message})`, error);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw checkpointError(indexFile, `Expected an object for weight_map but received ${describeValue(weightMap)}`);
  }
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    // Shards must sit next to the index: no paths, so an index cannot point outside the model folder.
    if (typeof shard !== 'string' || shard === '' || basename(shard) !== shard || shard === '..' || shard === '.') {
      throw checkpointError(
        indexFile,
        `Expected a file name in the model folder for weight_map['${name}'] but received ${describeValue(shard)}`,
      );
    }
    map.set(name, shard);
  }
  return map;
}

// Private: one source over several shards.
class ShardedSource implements WeightSource {
  readonly file: string;
  readonly #owners: ReadonlyMap<string, WeightSource>;
  readonly #shards: readonly WeightSource[];

  constructor(file: string, owners: ReadonlyMap<string, WeightSource>, shards: readonly WeightSource[]) {
    this.file = file;
    this.#owners = owners;
    this.#shards = shards;
  }

  list(): WeightInfo[] {
    return [...this.#owners].map(([name, shard]) => shard.get(name)!);
  }

  get(name: string): WeightInfo | undefined {
    return this.#owners.get(name)?.get(name);
  }

  readFloat32(name: string): Promise<Float32Array> {
    const shard = this.#owners.get(name);
    if (shard === undefined) {
      return Promise.reject(checkpointError(this.file, `Expected a tensor named '${name}' but the index lists none`));
    }
    return shard.readFloat32(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.#shards.map((shard) => shard.close()));
  }
}
