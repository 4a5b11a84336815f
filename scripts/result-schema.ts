/**
 * Writes docs/result.schema.json from the zod schema in src/results/schema.ts (the one
 * source of the record format) and docs/scenario.schema.json from src/scenario/scenario.ts. `npm run schema`; a unit test fails when they differ.
 */
import { writeFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../src/scenario/scenario.js';
import { resultJsonSchema } from '../src/results/schema.js';

for (const [name, schema] of [
  ['result.schema.json', resultJsonSchema()],
  ['scenario.schema.json', scenarioJsonSchema()],
] as const) {
  const path = new URL(`../docs/${name}`, import.meta.url);
  writeFileSync(path, `${JSON.stringify(schema, null, 2)}\n`);
  // Formatted by prettier in npm run lint; the tests compare the parsed JSON.
  console.log(`wrote ${path.pathname}`);
}
