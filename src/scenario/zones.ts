/**
 * Zones: each node sits in a zone, and a CSV matrix gives the one-way delay (and, if the
 * cell says so, loss and bandwidth) from each zone to each other, the way CometBFT's e2e
 * runner emulates cloud regions from measured latencies. The file:
 *
 *   # any comment lines (the source of the figures)
 *   from\to,   us-east-1, eu-west-1, ap-northeast-1
 *   us-east-1, 0.5ms,     38ms,      73ms
 *   eu-west-1, 38ms,      0.5ms,     105ms 0.1% 100mbit
 *   ...
 *
 * Rows are the source zone, columns the destination, in the same order; every cell has its
 * unit. Nodes are assigned by name (`nodes:` in the scenario, or `--zone-of`), else round
 * robin over the zones in the file's order.
 */
import { readFile } from 'node:fs/promises';
import { parseDelay, parseLoss, parseRate } from './quantities.js';

/**
 * The orchestrator (load generator, RPC, metrics, control) as an endpoint of links: its
 * traffic with the nodes is shaped only with --shape-orchestrator, and then events, zones
 * and `all` cover its links too.
 */
export const ORCHESTRATOR = 'client';

export interface ZoneCell {
  readonly delayMs: number;
  readonly lossPct?: number;
  readonly rateBits?: number;
}

export interface ZoneMatrix {
  readonly source: string;
  readonly zones: readonly string[];
  /** cells[from][to] */
  readonly cells: readonly (readonly ZoneCell[])[];
}

export interface ZonesSpec {
  readonly matrix: ZoneMatrix;
  /** Node → zone; missing: round robin in the network's node order. */
  readonly assign?: Readonly<Record<string, string>>;
}

/** One line naming the file, the line and the cell. */
export class ZoneProblem extends Error {}

export async function loadZoneMatrix(path: string, shown = path): Promise<ZoneMatrix> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ZoneProblem(
      `${shown}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  return parseZoneMatrix(text, shown);
}

export function parseZoneMatrix(text: string, shown: string): ZoneMatrix {
  const rows: { line: number; cells: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    rows.push({ line: index + 1, cells: line.split(',').map((cell) => cell.trim()) });
  });
  const header = rows[0];
  if (!header) throw new ZoneProblem(`${shown}: no matrix (a header row of zones, then one row per zone)`);
  const zones = header.cells.slice(1);
  if (zones.length === 0 || zones.some((zone) => zone === '')) {
    throw new ZoneProblem(
      `${shown}: line ${header.line}: the header names no zones (write "from\\to,zoneA,zoneB,…")`,
    );
  }
  const duplicate = zones.find((zone, index) => zones.indexOf(zone) !== index);
  if (duplicate) throw new ZoneProblem(`${shown}: line ${header.line}: zone ${duplicate} appears twice`);
  const body = rows.slice(1);
  if (body.length !== zones.length) {
    throw new ZoneProblem(
      `${shown}: not square: ${zones.length} zones in the header and ${body.length} rows (one row per zone)`,
    );
  }
  const cells = body.map((row, rowIndex) => {
    const zone = zones[rowIndex] as string;
    if (row.cells[0] !== zone) {
      throw new ZoneProblem(
        `${shown}: line ${row.line}: row ${rowIndex + 1} is ${JSON.stringify(row.cells[0])}, expected ${zone} (rows in the header's order)`,
      );
    }
    if (row.cells.length - 1 !== zones.length) {
      throw new ZoneProblem(
        `${shown}: line ${row.line}: not square: ${row.cells.length - 1} cells for ${zones.length} zones`,
      );
    }
    return row.cells
      .slice(1)
      .map((cell, column) => parseCell(cell, `${shown}: line ${row.line}: ${zone} -> ${zones[column]}`));
  });
  return { source: shown, zones, cells };
}

function parseCell(cell: string, where: string): ZoneCell {
  const parts = cell.split(/\s+/).filter(Boolean);
  const [delayText, ...rest] = parts;
  const delay = parseDelay(delayText ?? '');
  if (!delay.ok) throw new ZoneProblem(`${where}: ${delay.reason}`);
  let lossPct: number | undefined;
  let rateBits: number | undefined;
  for (const part of rest) {
    if (part.endsWith('%')) {
      const loss = parseLoss(part);
      if (!loss.ok) throw new ZoneProblem(`${where}: ${loss.reason}`);
      lossPct = loss.value;
    } else {
      const rate = parseRate(part);
      if (!rate.ok) throw new ZoneProblem(`${where}: ${rate.reason}`);
      rateBits = rate.value;
    }
  }
  return {
    delayMs: delay.value,
    ...(lossPct !== undefined ? { lossPct } : {}),
    ...(rateBits !== undefined ? { rateBits } : {}),
  };
}

/** `node0=us-east-1,node1=eu-west-1` → a map; a problem names the pair. */
export function parseZoneAssign(text: string): Record<string, string> {
  const assign: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [node, zone, ...rest] = pair.split('=');
    if (!node || !zone || rest.length > 0)
      throw new ZoneProblem(`--zone-of: ${JSON.stringify(pair)} is not node=zone`);
    assign[node.trim()] = zone.trim();
  }
  return assign;
}

/** Each node's zone; refuses a node with no zone and a zone not in the matrix. */
export function zoneOfNodes(
  spec: ZonesSpec,
  nodeIds: readonly string[],
  /** Endpoints that may have a zone but need none (the orchestrator, `client`, when it is shaped). */
  optional: readonly string[] = [],
  /** The network the names are judged against, as a refusal names it. */
  network = 'this network',
): Map<string, string> {
  const out = new Map<string, string>();
  const { zones } = spec.matrix;
  for (const node of optional) {
    const zone = spec.assign?.[node];
    if (zone !== undefined) out.set(node, zone);
  }
  nodeIds.forEach((node, index) => {
    if (spec.assign) {
      const zone = spec.assign[node];
      if (zone === undefined) {
        throw new ZoneProblem(
          `zones: node ${node} has no zone (zones given for ${Object.keys(spec.assign).join(', ')})`,
        );
      }
      out.set(node, zone);
    } else {
      out.set(node, zones[index % zones.length] as string);
    }
  });
  for (const [node, zone] of Object.entries(spec.assign ?? {})) {
    if (!zones.includes(zone))
      throw new ZoneProblem(
        `zones: ${node} is in zone ${zone}, which ${spec.matrix.source} does not have (zones: ${zones.join(', ')})`,
      );
    if (!nodeIds.includes(node) && !optional.includes(node))
      throw new ZoneProblem(
        node === ORCHESTRATOR
          ? `zones: ${node} (the orchestrator) is shaped only with --shape-orchestrator`
          : `zones: no node ${node} in ${network} (nodes: ${nodeIds.join(', ')})`,
      );
  }
  return out;
}

export function zoneCell(spec: ZonesSpec, fromZone: string, toZone: string): ZoneCell {
  const { zones, cells } = spec.matrix;
  return cells[zones.indexOf(fromZone)]?.[zones.indexOf(toZone)] as ZoneCell;
}
