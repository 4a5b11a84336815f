/**
 * Checking files against the record format: `resultValidator()` compiles the generated
 * JSON Schema (docs/result.schema.json) with ajv, formats included, the way any other
 * consumer of the files would; `comparableProblem()` checks the part of a record that
 * `benchmark compare` reads.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { benchmarkRecordSchema, resultJsonSchema } from './schema.js';

/** A validator for result files: `validate(record)` is true or `validate.errors` says why. */
export function resultValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(resultJsonSchema());
}

/**
 * What a comparison needs of a record: the header, the load and the headline results.
 * Attach-mode files and local-network/remote-network files qualify too.
 */
const comparableSchema = benchmarkRecordSchema.pick({ network_type: true, benchmark_number: true }).extend({
  parameters: benchmarkRecordSchema.shape.parameters.pick({ load: true }),
  results: benchmarkRecordSchema.shape.results.pick({
    throughput: true,
    avg_latency_ms: true,
    latency_stage: true,
    latency_percentiles_ms: true,
    efficiency: true,
  }),
});

/** Why `data` cannot be compared (its first problem, with the path), or undefined. */
export function comparableProblem(data: unknown): string | undefined {
  const parsed = comparableSchema.safeParse(data);
  if (parsed.success) return undefined;
  const first = parsed.error.issues[0];
  if (!first) return 'does not match the schema';
  const where = `/${first.path.join('/')}`;
  let value: unknown = data;
  for (const key of first.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value === undefined ? `${where} is missing` : `${where}: ${first.message}`;
}
