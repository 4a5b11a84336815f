/**
 * Workload mixes (`--mix FILE`): a client sends a weighted mix of transaction kinds, each with
 * its name, its share of the rate (`weight`), its tx size, and the fields its protocol lets a
 * kind set (`MixFields` of the ProtocolDefinition: http `method`/`route`, cometbft `mode`).
 *
 * Which kind a transaction is follows from its sequence number alone (`kindAt`): a cycle of
 * sum(weights) slots laid out by smooth weighted round-robin (nginx's), turned by a fixed
 * pseudo-random amount per cycle, so every shard, worker thread and load client agrees without
 * talking, each aligned cycle holds each kind exactly its weight, every prefix of the schedule
 * stays within two of each kind's share, and the kinds do not line up with anything else chosen
 * by the sequence number modulo a count (the round-robin target, the shard, the client).
 */
import { readFile } from 'node:fs/promises';
import { badFlag, MeshbenchError } from '../common/errors.js';
import { MAX_TRANSACTION_SIZE_BYTES } from '../common/defaults.js';
import { protocolDefinition, describeProtocol } from '../protocols/registry.js';
import type { ProtocolOptions } from '../protocols/options.js';
import { loadYaml } from '../common/yaml.js';

/** One kind of transaction in a mix, resolved: its own protocol options (structured-cloneable). */
export interface MixKind {
  readonly name: string;
  /** A whole number ≥ 1: the kind's share is weight / sum of weights. */
  readonly weight: number;
  readonly transactionSizeBytes: number;
  /** The run's protocol options with the kind's fields applied. */
  readonly protocol: ProtocolOptions;
  /** The protocol fields the kind set, as given (recorded). */
  readonly fields: Readonly<Record<string, string>>;
}

export interface LoadMix {
  /** Where it came from (the file), for messages and the record. */
  readonly source: string;
  readonly kinds: readonly MixKind[];
}

const COMMON_FIELDS = ['name', 'weight', 'size'] as const;
const MAX_KINDS = 64;
const MAX_WEIGHT = 10_000;
const MAX_CYCLE = 100_000;

function mixError(source: string, where: string, rule: string): MeshbenchError {
  return new MeshbenchError('BAD_CONFIG', `--mix ${source}: ${where}: ${rule}`, {
    hint: 'fix the mix file (see docs/benchmark.md, "Workload mixes")',
    exitCode: 2,
  });
}

/**
 * Checks a parsed mix (`{kinds: [...]}` or a bare list) against the run's protocol and size
 * default; throws one line naming the file, the kind and the field.
 */
export function resolveMix(
  value: unknown,
  source: string,
  base: { readonly protocol: ProtocolOptions; readonly transactionSizeBytes: number },
): LoadMix {
  const definition = protocolDefinition(base.protocol.kind);
  const protocolFields = definition.mixFields?.fields ?? {};
  let list: unknown = value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const unknown = Object.keys(value).filter((key) => key !== 'kinds');
    if (unknown.length > 0)
      throw mixError(
        source,
        `field ${JSON.stringify(unknown[0])}`,
        'not known; the file has one field, kinds',
      );
    list = (value as { kinds?: unknown }).kinds;
  }
  if (!Array.isArray(list) || list.length === 0)
    throw mixError(source, 'kinds', 'a non-empty list of kinds (name, weight, size, …)');
  if (list.length > MAX_KINDS) throw mixError(source, 'kinds', `at most ${MAX_KINDS} kinds`);
  const names = new Set<string>();
  const kinds = list.map((entry, index): MixKind => {
    const at = `kind ${index + 1}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw mixError(source, at, 'a map of name, weight, size and protocol fields');
    const fields = entry as Record<string, unknown>;
    const name = fields.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
      throw mixError(source, `${at} field "name"`, 'a name of letters, digits, _ . - (up to 64)');
    if (names.has(name)) throw mixError(source, `kind "${name}" field "name"`, 'names must differ');
    names.add(name);
    const where = (field: string) => `kind "${name}" field "${field}"`;
    for (const key of Object.keys(fields)) {
      if ((COMMON_FIELDS as readonly string[]).includes(key) || key in protocolFields) continue;
      const allowed = [...COMMON_FIELDS, ...Object.keys(protocolFields)].join(', ');
      throw mixError(
        source,
        where(key),
        `not known for protocol ${base.protocol.kind}; a kind may set ${allowed}`,
      );
    }
    const weight = fields.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT)
      throw mixError(
        source,
        where('weight'),
        `a whole number from 1 to ${MAX_WEIGHT} (its share is weight / sum of weights)`,
      );
    const size = fields.size ?? base.transactionSizeBytes;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_TRANSACTION_SIZE_BYTES)
      throw mixError(source, where('size'), `bytes, a whole number from 1 to ${MAX_TRANSACTION_SIZE_BYTES}`);
    const given: Record<string, unknown> = {};
    for (const key of Object.keys(protocolFields)) if (fields[key] !== undefined) given[key] = fields[key];
    let protocol = base.protocol;
    if (definition.mixFields && Object.keys(given).length > 0) {
      const applied = definition.mixFields.apply(base.protocol, given);
      if ('rule' in applied && 'field' in applied && typeof applied.rule === 'string')
        throw mixError(source, where(String(applied.field)), String(applied.rule));
      protocol = applied as ProtocolOptions;
    }
    return {
      name,
      weight,
      transactionSizeBytes: size,
      protocol,
      fields: Object.fromEntries(Object.entries(given).map(([key, v]) => [key, String(v)])),
    };
  });
  const total = kinds.reduce((sum, kind) => sum + kind.weight, 0);
  if (total > MAX_CYCLE) throw mixError(source, 'weights', `their sum is at most ${MAX_CYCLE}`);
  return { source, kinds };
}

/** Reads and checks a mix file (YAML or JSON: JSON is YAML). */
export async function loadMix(
  path: string,
  base: { readonly protocol: ProtocolOptions; readonly transactionSizeBytes: number },
): Promise<LoadMix> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw badFlag(
      'mix',
      path,
      `a readable YAML or JSON file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  let value: unknown;
  try {
    // yaml loads on use: a command that reads no mix file does not pay its start-up
    const { parse } = await loadYaml();
    value = parse(text);
  } catch (error) {
    throw mixError(path, 'syntax', (error as Error).message.split('\n')[0] ?? 'not YAML or JSON');
  }
  return resolveMix(value, path, base);
}

/**
 * The kind of each slot of one cycle (length sum of weights), by smooth weighted round-robin:
 * each slot goes to the kind furthest behind its share, so every prefix stays within one
 * transaction of each share and a full cycle is exact.
 */
export function mixCycle(weights: readonly number[]): Uint8Array {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const cycle = new Uint8Array(total);
  const current = weights.map(() => 0);
  for (let slot = 0; slot < total; slot++) {
    let best = 0;
    for (let kind = 0; kind < weights.length; kind++) {
      current[kind]! += weights[kind]!;
      if (current[kind]! > current[best]!) best = kind;
    }
    current[best]! -= total;
    cycle[slot] = best;
  }
  return cycle;
}

/**
 * The kind of transaction `seq`: slot (seq + turn(b)) mod L of the cycle, b = ⌊seq / L⌋ the
 * cycle it is in. Each aligned cycle is the whole cycle turned, so it holds each kind exactly
 * its weight; the turn changes from cycle to cycle, so the kinds spread evenly over any other
 * split by `seq mod m`. Without the turn, a 3:1 mix over 4 nodes (round-robin: seq mod 4) sent
 * every large transaction to the same node, and over 2 load clients one client sent no large one.
 */
export function kindAt(cycle: Uint8Array, seq: number): number {
  const length = cycle.length;
  if (length <= 1) return cycle[0] ?? 0;
  const turn = mixHash(Math.floor(seq / length)) % length;
  return cycle[(seq + turn) % length] as number;
}

/** A fixed 32-bit mix of n (murmur3's finaliser): the turn of each cycle. */
function mixHash(n: number): number {
  let x = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** How the record names a kind's request (`POST /a`, `cometbft (sync)`). */
export function describeKind(kind: MixKind): string {
  return describeProtocol(kind.protocol);
}
