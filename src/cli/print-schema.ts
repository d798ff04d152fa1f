import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printAppSchema } from '../server/print-schema.js';

/** `npm run schema:print`: regenerates schema.graphql at the repository root. */
const target = resolve(process.argv[2] ?? 'schema.graphql');
writeFileSync(target, await printAppSchema());
process.stdout.write(`wrote ${target}\n`);
