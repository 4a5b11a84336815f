/**
 * The record format's version, apart from the zod schema (src/results/schema.ts) so that
 * building a record does not load zod: `local-network`'s start-up path stays light.
 */
export const RECORD_SCHEMA_VERSION = 1;
