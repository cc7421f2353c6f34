import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema } from './build-schema.ts';
import { printSubgraphSdl } from './subgraph-schema.ts';

/**
 * `npm run schema:emit`: writes schema.graphql (the public API: the SDL of the type-graphql classes) and
 * subgraph.graphql (the Federation 2 subgraph SDL a Router composes) at the repository root.
 */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
export const SUBGRAPH_FILE = fileURLToPath(new URL('../../subgraph.graphql', import.meta.url));

await writeFile(SCHEMA_FILE, await printGatewaySchema());
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
await writeFile(SUBGRAPH_FILE, await printSubgraphSdl());
process.stdout.write(`wrote ${SUBGRAPH_FILE}\n`);
