/**
 * The `mesh` block of a run's record (`runs[].blocks.mesh`, `--protocol mesh`), once: the zod
 * schema the record format (src/results/schema.ts) includes in docs/result.schema.json. Field
 * meanings: docs/mesh-protocol.md and src/monitor/mesh/figures.ts.
 */
import { z } from 'zod';

const count = z.int().min(0);
const ms = z
  .number()
  .min(0)
  .nullable()
  .describe('milliseconds; null when nothing was measured (never 0 for none)');
const share = z.number().min(0).max(1).nullable();

export const meshBlockSchema = z
  .object({
    nodes: z.array(z.string()).describe('the nodes, in the order of the endpoints'),
    messages: count.describe("distinct load messages seen on any node's delivery stream"),
    published: count.optional().describe('accepted publishes (2xx) of the run'),
    never_delivered: count.optional().describe('accepted publishes no node ever delivered'),
    delivered_everywhere: count.describe('messages delivered on every node'),
    unknown_origin: count.describe('events whose origin is not one of the nodes'),
    receivers: z.array(
      z.object({
        node: z.string(),
        delivered: count,
        ratio: share.describe('delivered / messages; null with no message'),
        duplicates: count.describe('events for a message this node had already delivered'),
        missing: count.describe('messages seen elsewhere, never on this node'),
      }),
    ),
    pairs: z
      .array(
        z.object({
          from: z.string(),
          to: z.string(),
          count,
          p50_ms: ms,
          p99_ms: ms,
          early: count
            .optional()
            .describe(
              "deliveries read before the origin's own event, counted as 0 ms (records before 2026-11-28 lack it)",
            ),
        }),
      )
      .describe("every ordered pair: origin's own delivery event → the receiver's, on meshbench's clock"),
    availability: z.object({
      seconds: count.describe('seconds with a message published'),
      available: count.describe('of those, seconds with a message delivered on every node'),
      share,
    }),
    windows: z
      .array(
        z.object({
          id: z.string(),
          label: z.string(),
          from_ms: z.number().describe('level clock'),
          to_ms: z.number().nullable().describe('null: still open when the load ended'),
          published: count.describe('messages published while the window was open'),
          receivers: z.array(
            z.object({
              node: z.string(),
              missing: count.describe('of those, never delivered on this node'),
              resync_ms: ms.describe(
                "from the window's end until the last of those this node got arrived (0: all by its end)",
              ),
            }),
          ),
        }),
      )
      .optional()
      .describe('per fault or condition window: what each node held of what was published during it'),
    note: z
      .string()
      .optional()
      .describe(
        'why the figures are empty (no delivery arrived) or leave deliveries out (their origin names no node)',
      ),
    ack: z
      .object({ p50_ms: ms, p99_ms: ms })
      .describe('publish → 2xx from the scheduled send (the load ack stage)'),
    malformed: z.record(z.string(), count).describe('events that were not deliveries, per node'),
    errors: z.array(z.string()).optional().describe('one line per node that did not serve the contract'),
  })
  .describe('mesh delivery figures (--protocol mesh, docs/mesh-protocol.md)');
