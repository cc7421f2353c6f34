import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempRegistry } from './test/helpers/temp-registry.ts';
const registry = await createTempRegistry();
for (const [name, task] of [['tiny', 'caption'], ['tiny-vqa', 'vqa']] as const) {
  await registry.install(name, task);
  await writeFile(join(registry.root, name, 'variant.json'), JSON.stringify({ name, task, description: `${name} for the fleet test`, default: true, source: { checkpoint: `checkpoints/${task}` } }));
}
console.log(registry.repoRoot);
