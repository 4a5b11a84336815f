/**
 * The `load_clients` block of a run's record (`runs[].blocks.load_clients`): each load client's
 * own figures beside the merged ones. The zod schema, included by src/results/schema.ts, and
 * its type. Field meanings: docs/result-format.md.
 */
import { z } from 'zod';
import { latencySummarySchema } from '../measure/schema.js';

const count = z.int().min(0);
const nonNegative = z.number().min(0);

const latencySchema = latencySummarySchema.describe(
  "this client's own latency (ms, from the intended send), on its own clock",
);

const clientSchema = z.object({
  client: z
    .string()
    .describe('client0 … clientN-1, in node order (colocated) or client host order (dedicated)'),
  host: z.string().describe('the host it ran on'),
  nodes: z
    .array(z.string())
    .describe('the nodes it sent to (colocated: the node on its host; dedicated: every node)'),
  share: z.string().describe('its share of the one schedule: the sequence numbers ≡ k mod n'),
  status: z
    .enum(['ok', 'dead', 'error'])
    .describe('ok: its result came back; dead: silent too long; error: it reported a failure'),
  clock_offset_ms: z
    .number()
    .optional()
    .describe(
      "its host's clock − this machine's (ms), measured at deploy and added to its start instant; absent: not measured, none applied",
    ),
  start_at: z
    .string()
    .optional()
    .describe('its own start instant, on its own clock: the agreed start + its clock offset'),
  reason: z.string().optional().describe('why it is dead or failed'),
  input_rate: nonNegative.optional().describe('its share of the input rate, tx/s'),
  scheduled: count.optional(),
  sent: count.optional(),
  ok: count.optional(),
  committed: count.optional(),
  efficiency: nonNegative.optional(),
  latency_ack: latencySchema.optional(),
  latency_commit: latencySchema.optional(),
  kinds: z
    .array(z.object({ name: z.string(), scheduled: count, sent: count, ok: count, committed: count }))
    .optional()
    .describe("with --mix: this client's counts per kind (the merged kinds are the run's results.kinds)"),
  last_progress: z
    .object({
      elapsed_ms: z.int(),
      scheduled: count,
      sent: count,
      ok: count,
      failed: count,
      committed: count,
    })
    .optional()
    .describe('a dead or failed client: the last progress it reported (what it did before it died)'),
});

export const loadClientsBlockSchema = z
  .object({
    mode: z.enum(['colocated', 'dedicated']).describe('--load-clients'),
    start_at: z.string().describe('the agreed wall-clock start of the schedule (this machine’s clock)'),
    clock_offsets: z
      .enum(['applied', 'partly applied', 'not measured'])
      .describe(
        "whether each client's start instant was corrected by its host's measured clock offset (per_client[].clock_offset_ms)",
      ),
    clients: count,
    merged_clients: count.describe('clients whose recorder state came back and is in the merged figures'),
    merged_scheduled: count.describe('transactions scheduled in the merged figures'),
    per_client: z.array(clientSchema),
  })
  .describe(
    '--load-clients: the load ran in clients beside the nodes or on client hosts; their figures merged exactly (HDR histograms)',
  );

export type LoadClientsBlock = z.infer<typeof loadClientsBlockSchema>;
