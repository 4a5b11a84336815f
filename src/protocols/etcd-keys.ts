/**
 * Which key each etcd put writes. Modelled on etcd's own `benchmark put`
 * (tools/benchmark/cmd/put.go: --key-size, --val-size, --key-space-size,
 * --sequential-keys, --prefix), plus a zipfian choice and a default that never
 * overwrites:
 *
 * - `unique` (default): `<prefix><run id>/<seq base36>`. The run id is the one the
 *   generator gets (the benchmark sweep gives `<run>-<network>-<level>-<repeat>`), and
 *   `seq` is the send's number in that run's schedule, which every worker thread
 *   knows, so every send writes a key no other send of any run or level writes, and
 *   one level's keys are exactly those under `<prefix><run id>/`.
 * - `sequential`: key index `seq mod N` (etcd's --sequential-keys).
 * - `uniform`: an index drawn uniformly from 0..N−1 (etcd's default choice).
 * - `zipfian`: index k−1 with probability ∝ k^−s over 1..N (index 0 the hottest);
 *   s = 0.99 by default (YCSB's constant; Go's rand.Zipf, v = 1, is the same shape).
 *
 * In the three key-space patterns a key is `<prefix><index, zero-padded to the key
 * size>`: like etcd's tool, the key size counts the bytes after the prefix (default 8,
 * or the digits of N−1 when that is more). Random choices come from a hash of
 * (run id, seq), not from a per-thread generator: the same run id picks the same keys
 * whatever the number of worker threads.
 */
import { ETCD_KEY_PREFIX } from '../common/defaults.js';
import { hashUniform, seedFromString, ZipfSampler } from '../common/zipf.js';

export const ETCD_KEY_PATTERNS = ['unique', 'sequential', 'uniform', 'zipfian'] as const;
export type EtcdKeyPatternKind = (typeof ETCD_KEY_PATTERNS)[number];

export const ETCD_KEY_DEFAULTS = {
  prefix: ETCD_KEY_PREFIX,
  pattern: 'unique',
  keySpace: 10_000,
  /** etcd benchmark's --key-size default. */
  keySizeBytes: 8,
  zipfExponent: 0.99,
} as const;

/** Largest key space: its indices stay exact integers and at most 15 digits. */
export const MAX_ETCD_KEY_SPACE = 1e15;
/** Largest key size after the prefix (etcd's whole request is limited to about 1.5 MiB). */
export const MAX_ETCD_KEY_SIZE_BYTES = 65_536;
export const MAX_ZIPF_EXPONENT = 100;

/** What a caller asks for; unset fields take ETCD_KEY_DEFAULTS. */
export type EtcdKeyPattern =
  | { readonly kind: 'unique' }
  | {
      readonly kind: 'sequential' | 'uniform';
      readonly keySpace?: number;
      readonly keySizeBytes?: number;
    }
  | {
      readonly kind: 'zipfian';
      readonly keySpace?: number;
      readonly keySizeBytes?: number;
      readonly exponent?: number;
    };

/** The pattern in use, every default filled in: what a result records. */
export interface EtcdKeysSummary {
  readonly pattern: EtcdKeyPatternKind;
  readonly prefix: string;
  /** Key-space patterns: N, keys 0..N−1. */
  readonly keySpace?: number;
  /** Key-space patterns: bytes after the prefix (the zero-padded index). */
  readonly keySizeBytes?: number;
  /** `zipfian`: s in P(k) ∝ k^−s. */
  readonly zipfExponent?: number;
  /** `unique`: every key of this run starts with this (`<prefix><run id>/`). */
  readonly runKeyPrefix?: string;
}

/** A problem with a pattern: which setting, the value, and the rule. */
export interface EtcdKeyProblem {
  readonly setting: 'pattern' | 'keySpace' | 'keySizeBytes' | 'exponent' | 'prefix';
  readonly value: unknown;
  readonly rule: string;
}

/** Digits of the largest index of a key space of `keySpace` keys. */
export function indexDigits(keySpace: number): number {
  return String(Math.max(0, keySpace - 1)).length;
}

/** The key size used when none is given: etcd's 8, or the digits of N−1 when more. */
export function defaultKeySizeBytes(keySpace: number): number {
  return Math.max(ETCD_KEY_DEFAULTS.keySizeBytes, indexDigits(keySpace));
}

/** The first problem with a pattern, or undefined when it can be used. */
export function checkEtcdKeyPattern(
  pattern: EtcdKeyPattern | undefined,
  prefix?: string,
): EtcdKeyProblem | undefined {
  if (prefix !== undefined && prefix.length === 0)
    return { setting: 'prefix', value: prefix, rule: 'a non-empty key prefix' };
  if (pattern === undefined) return undefined;
  if (!(ETCD_KEY_PATTERNS as readonly string[]).includes(pattern.kind))
    return { setting: 'pattern', value: pattern.kind, rule: `one of ${ETCD_KEY_PATTERNS.join(', ')}` };
  if (pattern.kind === 'unique') return undefined;
  const keySpace = pattern.keySpace ?? ETCD_KEY_DEFAULTS.keySpace;
  if (!Number.isInteger(keySpace) || keySpace < 1 || keySpace > MAX_ETCD_KEY_SPACE)
    return {
      setting: 'keySpace',
      value: pattern.keySpace,
      rule: `a whole number of keys from 1 to ${MAX_ETCD_KEY_SPACE}`,
    };
  const size = pattern.keySizeBytes;
  const needed = indexDigits(keySpace);
  if (size !== undefined) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_ETCD_KEY_SIZE_BYTES)
      return {
        setting: 'keySizeBytes',
        value: size,
        rule: `a whole number of bytes from 1 to ${MAX_ETCD_KEY_SIZE_BYTES}`,
      };
    if (size < needed)
      return {
        setting: 'keySizeBytes',
        value: size,
        rule: `${keySpace} keys need ${needed} digits after the prefix; give a key size of at least ${needed} or a smaller key space`,
      };
  }
  if (pattern.kind === 'zipfian' && pattern.exponent !== undefined) {
    const s = pattern.exponent;
    if (!Number.isFinite(s) || s <= 0 || s > MAX_ZIPF_EXPONENT)
      return { setting: 'exponent', value: s, rule: `a number > 0 and at most ${MAX_ZIPF_EXPONENT}` };
  }
  return undefined;
}

/** The pattern with every default filled in (throws RangeError for a pattern with a problem). */
export function summarizeEtcdKeys(
  pattern: EtcdKeyPattern | undefined,
  prefix: string | undefined,
  runId: string,
): EtcdKeysSummary {
  const problem = checkEtcdKeyPattern(pattern, prefix);
  if (problem)
    throw new RangeError(
      `etcd key ${problem.setting} ${String(problem.value)} is not allowed: ${problem.rule}`,
    );
  const keyPrefix = prefix ?? ETCD_KEY_DEFAULTS.prefix;
  if (pattern === undefined || pattern.kind === 'unique')
    return { pattern: 'unique', prefix: keyPrefix, runKeyPrefix: `${keyPrefix}${runId}/` };
  const keySpace = pattern.keySpace ?? ETCD_KEY_DEFAULTS.keySpace;
  return {
    pattern: pattern.kind,
    prefix: keyPrefix,
    keySpace,
    keySizeBytes: pattern.keySizeBytes ?? defaultKeySizeBytes(keySpace),
    ...(pattern.kind === 'zipfian'
      ? { zipfExponent: pattern.exponent ?? ETCD_KEY_DEFAULTS.zipfExponent }
      : {}),
  };
}

/**
 * The key (as text) that send `seq` writes. A pure function of (summary, run id, seq):
 * every worker thread computes the same key for the same send.
 */
export function etcdKeyMaker(summary: EtcdKeysSummary, runId: string): (seq: number) => string {
  if (summary.pattern === 'unique') {
    const runKeyPrefix = summary.runKeyPrefix ?? `${summary.prefix}${runId}/`;
    return (seq) => runKeyPrefix + seq.toString(36);
  }
  const keySpace = summary.keySpace ?? ETCD_KEY_DEFAULTS.keySpace;
  const width = summary.keySizeBytes ?? defaultKeySizeBytes(keySpace);
  const key = (index: number) => summary.prefix + String(index).padStart(width, '0');
  if (summary.pattern === 'sequential') return (seq) => key(seq % keySpace);
  const seed = seedFromString(runId);
  if (summary.pattern === 'uniform')
    return (seq) => key(Math.min(keySpace - 1, Math.floor(hashUniform(seed, seq) * keySpace)));
  const zipf = new ZipfSampler(keySpace, summary.zipfExponent ?? ETCD_KEY_DEFAULTS.zipfExponent);
  return (seq) => {
    let draw = 0;
    return key(zipf.sample(() => hashUniform(seed, seq, draw++)) - 1);
  };
}
