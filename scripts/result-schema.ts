/**
 * Writes docs/result.schema.json from the zod schema in src/results/schema.ts (the one
 * source of the record format). `npm run schema`; a unit test fails when they differ.
 */
import { writeFileSync } from 'node:fs';
import { resultJsonSchema } from '../src/results/schema.js';

const path = new URL('../docs/result.schema.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(resultJsonSchema(), null, 2)}\n`);
// Formatted by prettier in npm run lint; the test compares the parsed JSON.
console.log(`wrote ${path.pathname}`);
