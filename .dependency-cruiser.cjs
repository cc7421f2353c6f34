/**
 * Import rules of blip-gateway, checked by `npm run lint` (tools/lint/lint.ts runs dependency-cruiser's API with this
 * file; on Node ≥ 22 `npx depcruise src --config .dependency-cruiser.cjs` reads it too). Every rule is an error.
 * test/lint/import-rules.test.ts proves that each rule fires on a deliberately bad import.
 *
 * The folders, in the direction imports may point:
 *   main.ts, cli/                      composition roots: may import anything
 *   graphql/, http/                    the API layer: the only code that imports graphql, Apollo, type-graphql, express
 *   gateway/, registry/, batching/,    serving machinery: family-neutral, talks to a family only through the
 *   backend/, metrics/, upload/        family-neutral files at the top of models/ (family.ts, ...)
 *   models/families.ts                 the one list of families (one registration line per family)
 *   models/<family>/                   one model family: its contract, runtime, engine, checkpoint config, converter
 *   models/<family>/convert/           the family's converter: a leaf that only the CLI, the embedded-variant
 *                                      installer and the family's family.ts (by dynamic import()) reach
 *   generation/, checkpoint/, onnx/,   shared machinery, reused by every family
 *   image/, runtime/, variant/, config/, errors.ts
 */

/** Folders of the server that must stay family-neutral. */
const SERVING = '^src/(graphql|http|gateway|registry|batching|backend|metrics|upload)/';
/** Anything inside one family's folder (the family-neutral files sit directly in src/models/). */
const FAMILY_INTERNALS = '^src/models/[^/]+/';
/** One family's converter. */
const CONVERTER = '^src/models/[^/]+/convert/';
/** Shared machinery, reused by every family. */
const SHARED = '^src/((generation|checkpoint|onnx|image|runtime|config)/|errors\\.ts$)';
/** The embedded-variant installer: converts the checkpoints shipped in the repository at start-up. */
const INSTALLER = '^src/registry/embedded-variant\\.ts$';
/** The server's own folders, which a family must not know. */
const SERVER = '^src/(graphql|http|gateway|registry|batching)/';
/** npm packages of the API layer. */
const API_PACKAGES = '(^|/)node_modules/(graphql|graphql-[^/]+|@graphql-tools/[^/]+|@apollo/[^/]+|@as-integrations/[^/]+|type-graphql|express)/';

const NO_FAMILY_INTERNALS =
  'graphql/, http/, gateway/, registry/, batching/, backend/, metrics/ and upload/ serve every model family: they may ' +
  'import only the family-neutral files at the top of src/models/ (family.ts, ...), never a file inside ' +
  'src/models/<family>/ (the embedded-variant installer may import a converter, nothing else). Put what they need ' +
  'into the family interface instead.';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles make load order matter and hide which module owns what. Break the cycle by moving the shared ' +
        'part (often a type) into its own module that both sides import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'serving-imports-no-family-internals',
      severity: 'error',
      comment: NO_FAMILY_INTERNALS,
      from: { path: SERVING, pathNot: INSTALLER },
      to: { path: FAMILY_INTERNALS },
    },
    {
      // The same rule for the embedded-variant installer, which may also reach a converter (and nothing else).
      name: 'serving-imports-no-family-internals',
      severity: 'error',
      comment: NO_FAMILY_INTERNALS,
      from: { path: INSTALLER },
      to: { path: FAMILY_INTERNALS, pathNot: CONVERTER },
    },
    {
      name: 'families-registered-only-at-the-roots',
      severity: 'error',
      comment:
        'src/models/families.ts names every family and so pulls in all of their code. Serving code receives the ' +
        'families from the composition root (src/main.ts) instead; the only serving file that picks them itself is ' +
        'the worker thread entry, src/backend/worker/worker-entry.ts, which is a root of its own thread.',
      from: { path: SERVING, pathNot: '^src/backend/worker/worker-entry\\.ts$' },
      to: { path: '^src/models/families\\.ts$' },
    },
    {
      name: 'family-list-imports-only-family-entries',
      severity: 'error',
      comment:
        'src/models/families.ts is one registration line per family: it imports src/models/<family>/family.ts and ' +
        'nothing deeper, so a family keeps its internals to itself.',
      from: { path: '^src/models/families\\.ts$' },
      to: { path: FAMILY_INTERNALS, pathNot: '^src/models/[^/]+/family\\.ts$' },
    },
    {
      name: 'neutral-model-files-stay-neutral',
      severity: 'error',
      comment:
        'The files at the top of src/models/ (other than families.ts) are the family-neutral contract every family ' +
        'implements: they must not depend on any one family.',
      from: { path: '^src/models/[^/]+\\.ts$', pathNot: '^src/models/families\\.ts$' },
      to: { path: FAMILY_INTERNALS },
    },
    {
      name: 'no-cross-family-imports',
      severity: 'error',
      comment:
        'One family must not import another family\'s files: move what both need into shared machinery ' +
        '(generation/, checkpoint/, onnx/, image/, runtime/) or the family-neutral files of src/models/.',
      from: { path: '^src/models/([^/]+)/' },
      to: { path: FAMILY_INTERNALS, pathNot: '^src/models/$1/' },
    },
    {
      name: 'serving-imports-no-converter',
      severity: 'error',
      comment:
        'A converter (src/models/<family>/convert/) is a leaf used only by the CLI, the installers ' +
        '(src/registry/embedded-variant.ts, src/hub/) and, by dynamic import(), the family\'s own family.ts. Serving code that ' +
        'needs graph input/output names imports the family\'s contract module, which the converter imports too.',
      from: {
        pathNot: [
          '^src/cli/',
          CONVERTER,
          '^src/models/[^/]+/family\\.ts$',
          INSTALLER,
          // The Hub installer converts what it downloaded (`pull`, `installModel`), in the CLI or an install worker.
          '^src/hub/',
        ],
      },
      to: { path: CONVERTER },
    },
    {
      name: 'family-loads-converter-lazily',
      severity: 'error',
      comment:
        'A family\'s family.ts may reach its converter only with a dynamic import(), so that loading a family to ' +
        'serve it never loads the converter.',
      from: { path: '^src/models/[^/]+/family\\.ts$' },
      to: { path: CONVERTER, dynamic: false },
    },
    {
      name: 'shared-machinery-imports-no-family',
      severity: 'error',
      comment:
        'generation/, checkpoint/, onnx/, image/, runtime/, config/ and errors.ts are shared machinery that every ' +
        'family reuses: they must not import anything from src/models/. (variant/ should join this list once ' +
        'manifest.ts no longer takes its types from models/blip/.)',
      from: { path: SHARED },
      to: { path: '^src/models/' },
    },
    {
      name: 'family-knows-no-server',
      severity: 'error',
      comment:
        'A model family is served by the server, it does not know it: src/models/<family>/ must not import ' +
        'graphql/, http/, gateway/, registry/ or batching/. What a family needs from them belongs in the ' +
        'family-neutral files of src/models/ or in backend/ (items, events).',
      from: { path: FAMILY_INTERNALS },
      to: { path: SERVER },
    },
    {
      name: 'api-packages-only-in-api-layer',
      severity: 'error',
      comment:
        'Only the API layer (src/graphql/, src/http/) and the composition root (src/main.ts) import graphql, ' +
        'graphql-*, @graphql-tools/*, @apollo/*, @as-integrations/*, type-graphql or express: domain code throws ' +
        'ServiceError and never knows the transport.',
      from: { path: '^src/', pathNot: ['^src/(graphql|http)/', '^src/main\\.ts$'] },
      to: { path: API_PACKAGES },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'Every import must resolve to a file or an installed package; an import the checker cannot resolve is an ' +
        'import none of the rules above can see.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports couple modules too (and would hide cycles and layer breaks); count them.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // Resolve package.json "exports" subpaths (tsx/esm/api, graphql-upload/*.mjs) the way Node does.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
