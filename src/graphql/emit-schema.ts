import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema } from './build-schema.ts';

/** `npm run schema:emit`: writes schema.graphql (the SDL of the type-graphql classes) at the repository root. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

await writeFile(SCHEMA_FILE, await printGatewaySchema());
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
