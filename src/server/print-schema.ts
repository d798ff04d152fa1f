import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildAppSchema } from './schema.js';

/** The SDL of the API as committed in schema.graphql: sorted, so diffs show only real changes. */
export async function printAppSchema(): Promise<string> {
  const schema = await buildAppSchema();
  return `# Generated from the resolvers by \`npm run schema:print\`. Do not edit by hand.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}
