/** A zod schema as the JSON Schema (draft-7) the docs ship, under a meshbench `$id`. */
import { z } from 'zod';

export function jsonSchemaOf(schema: z.ZodType, name: string): Record<string, unknown> {
  const generated = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: `https://meshbench.dev/schemas/${name}`, ...rest };
}
