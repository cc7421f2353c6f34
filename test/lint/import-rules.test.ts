import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImports, type ImportCheck } from '../../tools/lint/import-rules.ts';

const CONFIG = join(import.meta.dirname, '../../.dependency-cruiser.cjs');

/**
 * A small source tree in the target layout (src/models/<family>/, family.ts, families.ts, a converter) with good
 * imports, and one file per deliberately bad import. The real configuration checks it; the test asserts the exact set
 * of violations: every bad import fires its rule by name, and no good import fires anything.
 */
const FILES: Record<string, string> = {
  'src/errors.ts': 'export class ServiceError extends Error {}\n',
  'src/main.ts': "import { graphql } from 'graphql';\nimport { families } from './models/families.ts';\nexport const root = [graphql, families];\n",
  // Family-neutral contract, the family list, one family with a contract module, a runtime and a lazily loaded converter.
  'src/models/family.ts': 'export interface ModelFamily { name: string; convert(): Promise<unknown> }\n',
  'src/models/families.ts': [
    "import { blip } from './blip/family.ts';",
    "import { Model } from './blip/runtime/model.ts';", // BAD: families.ts registers family.ts, nothing deeper.
    'export const families = [blip, Model];',
  ].join('\n'),
  'src/models/task.ts': "import type { Names } from './blip/contract.ts';\nexport type Task = Names;\n", // BAD: neutral file names a family.
  'src/models/blip/family.ts': [
    "import type { ModelFamily } from '../family.ts';",
    "export const blip: ModelFamily = { name: 'blip', convert: () => import('./convert/convert.ts') };",
  ].join('\n'),
  'src/models/blip/contract.ts': "export const NAMES = { input: 'pixel_values' } as const;\nexport type Names = typeof NAMES;\n",
  'src/models/blip/convert/convert.ts': "import { NAMES } from '../contract.ts';\nexport const convert = () => NAMES;\n",
  'src/models/blip/runtime/model.ts': [
    "import { NAMES } from '../contract.ts';",
    "import { ServiceError } from '../../../errors.ts';",
    "import { Items } from '../../../backend/items.ts';",
    'export class Model { names = NAMES; error = ServiceError; items = Items; }',
  ].join('\n'),
  'src/models/blip/runtime/uses-converter.ts': "import { convert } from '../convert/convert.ts';\nexport const c = convert;\n", // BAD
  'src/models/blip/runtime/knows-server.ts': "import { registry } from '../../../registry/registry.ts';\nexport const r = registry;\n", // BAD
  // A second family: one bad static converter import in its family.ts, one bad import of the first family.
  'src/models/other/family.ts': [
    "import { convert } from './convert/convert.ts';", // BAD: static, not import().
    "import { Model } from '../blip/runtime/model.ts';", // BAD: another family's internals.
    'export const other = { name: "other", convert, Model };',
  ].join('\n'),
  'src/models/other/convert/convert.ts': 'export const convert = async () => 1;\n',
  // Serving code.
  'src/backend/items.ts': 'export const Items = {};\n',
  'src/backend/worker/worker-entry.ts': "import { families } from '../../models/families.ts';\nexport const f = families;\n",
  'src/registry/registry.ts': "import type { ModelFamily } from '../models/family.ts';\nexport const registry = new Map<string, ModelFamily>();\n",
  'src/registry/picks-families.ts': "import { families } from '../models/families.ts';\nexport const f = families;\n", // BAD
  'src/registry/embedded-variant.ts': [
    "import { convert } from '../models/blip/convert/convert.ts';",
    "import { Model } from '../models/blip/runtime/model.ts';", // BAD: the installer may reach the converter only.
    'export const install = [convert, Model];',
  ].join('\n'),
  'src/graphql/schema.ts': "import { GraphQLSchema } from 'graphql';\nimport { registry } from '../registry/registry.ts';\nexport const s = [GraphQLSchema, registry];\n",
  'src/graphql/reaches-family.ts': "import type { Model } from '../models/blip/runtime/model.ts';\nexport type M = Model;\n", // BAD (type-only)
  'src/http/server.ts': "import express from 'express';\nexport const app = express;\n",
  'src/gateway/uses-express.ts': "import express from 'express';\nexport const app = express;\n", // BAD
  'src/batching/uses-converter.ts': "import { convert } from '../models/other/convert/convert.ts';\nexport const c = convert;\n", // BAD (two rules)
  'src/cli/convert-command.ts': "import { convert } from '../models/blip/convert/convert.ts';\nexport const run = convert;\n",
  // A cycle, and an import of a file that does not exist.
  'src/generation/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
  'src/generation/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
  'src/image/missing.ts': "import { nothing } from './nothing.ts';\nexport const m = nothing;\n", // BAD
  'src/generation/knows-family.ts': "import { NAMES } from '../models/blip/contract.ts';\nexport const n = NAMES;\n", // BAD
  // Stand-ins for the npm packages (the rules match node_modules/<name>/).
  'node_modules/graphql/package.json': '{ "name": "graphql", "main": "index.js" }\n',
  'node_modules/graphql/index.js': 'exports.graphql = 1; exports.GraphQLSchema = 2;\n',
  'node_modules/express/package.json': '{ "name": "express", "main": "index.js" }\n',
  'node_modules/express/index.js': 'module.exports = () => 1;\n',
};

const EXPECTED = [
  ['families-registered-only-at-the-roots', 'src/registry/picks-families.ts', 'src/models/families.ts'],
  ['family-list-imports-only-family-entries', 'src/models/families.ts', 'src/models/blip/runtime/model.ts'],
  ['neutral-model-files-stay-neutral', 'src/models/task.ts', 'src/models/blip/contract.ts'],
  ['serving-imports-no-converter', 'src/models/blip/runtime/uses-converter.ts', 'src/models/blip/convert/convert.ts'],
  ['serving-imports-no-converter', 'src/batching/uses-converter.ts', 'src/models/other/convert/convert.ts'],
  ['serving-imports-no-family-internals', 'src/batching/uses-converter.ts', 'src/models/other/convert/convert.ts'],
  ['serving-imports-no-family-internals', 'src/graphql/reaches-family.ts', 'src/models/blip/runtime/model.ts'],
  ['serving-imports-no-family-internals', 'src/registry/embedded-variant.ts', 'src/models/blip/runtime/model.ts'],
  ['family-knows-no-server', 'src/models/blip/runtime/knows-server.ts', 'src/registry/registry.ts'],
  ['family-loads-converter-lazily', 'src/models/other/family.ts', 'src/models/other/convert/convert.ts'],
  ['no-cross-family-imports', 'src/models/other/family.ts', 'src/models/blip/runtime/model.ts'],
  ['api-packages-only-in-api-layer', 'src/gateway/uses-express.ts', 'node_modules/express/index.js'],
  ['shared-machinery-imports-no-family', 'src/generation/knows-family.ts', 'src/models/blip/contract.ts'],
  ['not-to-unresolvable', 'src/image/missing.ts', './nothing.ts'],
  // A cycle is reported once, from its first module.
  ['no-circular', 'src/generation/a.ts', 'src/generation/b.ts'],
].map(([rule, from, to]) => `${rule}: ${from} → ${to}`);

let root: string;
let check: ImportCheck;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'import-rules-'));
  for (const [file, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), text);
  }
  check = await checkImports({ root, paths: ['src'], configFile: CONFIG });
}, 30_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('import rules (.dependency-cruiser.cjs)', () => {
  it('reports exactly the deliberately bad imports, each under its rule, and none of the good ones', () => {
    const found = check.violations.map((v) => `${v.rule}: ${v.from} → ${v.to}`);
    expect([...found].sort()).toEqual([...EXPECTED].sort());
  });

  it('saw every file of the tree, .ts-extension and type-only imports resolved', () => {
    const sources = Object.keys(FILES).filter((file) => file.startsWith('src/')).length;
    // The tree's sources plus the two npm stand-ins it imports (and the unresolvable ./nothing.ts).
    expect(check.moduleCount).toBe(sources + 3);
  });

  it('names the cycle it found, and every rule has a comment that says why', () => {
    const cycle = check.violations.find((v) => v.rule === 'no-circular' && v.from === 'src/generation/a.ts');
    expect(cycle?.cycle).toEqual(['src/generation/a.ts', 'src/generation/b.ts', 'src/generation/a.ts']);
    const rules = new Set(EXPECTED.map((line) => line.split(':')[0]));
    expect([...check.rules.keys()].sort()).toEqual([...rules].sort());
    for (const [name, comment] of check.rules) expect(comment.length, name).toBeGreaterThan(40);
  });
});
