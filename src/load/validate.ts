/**
 * Checks LoadOptions once, before anything runs. Each problem is a one-line
 * MeshbenchError naming the value and what is allowed.
 */
import { MeshbenchError } from '../common/errors.js';
import { committingKinds, findProtocol, isBuiltInProtocol, protocolKinds } from '../protocols/registry.js';
import { MAX_TRANSACTION_SIZE_BYTES } from './payload.js';
import { createTargetPicker } from './targets.js';
import { FAULT_LOAD_MODES } from './types.js';
import type { LoadOptions } from './types.js';

function bad(message: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', message, { hint });
}

export function checkRate(rate: number, what = 'rate'): void {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw bad(`${what} ${String(rate)} is not allowed`, 'use a rate above 0 tx/s, e.g. --loads 500,1000');
  }
}

export function checkTransactionSize(sizeBytes: number): void {
  if (!Number.isInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > MAX_TRANSACTION_SIZE_BYTES) {
    throw bad(
      `transaction size ${String(sizeBytes)} bytes is not allowed`,
      `use a whole number of bytes from 1 to ${MAX_TRANSACTION_SIZE_BYTES} (16 MiB)`,
    );
  }
}

/** Parses an endpoint URL (http or https), or throws naming it. */
export function checkEndpointUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(
      `endpoint URL ${JSON.stringify(value)} cannot be parsed`,
      'use a full URL such as http://127.0.0.1:26657',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw bad(
      `endpoint URL ${JSON.stringify(value)} uses ${url.protocol}`,
      'use http:// or https://, e.g. http://127.0.0.1:26657',
    );
  }
  return url;
}

export function checkProtocolKind(kind: string): void {
  if (!findProtocol(kind)) {
    throw bad(`protocol ${JSON.stringify(kind)} is not known`, `use one of ${protocolKinds().join(', ')}`);
  }
}

function checkPositiveInteger(value: number | undefined, name: string, min = 1): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min)
    throw bad(`${name} ${String(value)} is not allowed`, `use a whole number >= ${min}`);
}

function checkNonNegative(value: number | undefined, name: string): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0)
    throw bad(`${name} ${String(value)} is not allowed`, 'use a number >= 0');
}

export function validateLoadOptions(options: LoadOptions): void {
  if (options.endpoints.length === 0)
    throw bad('no endpoints given', 'pass at least one, e.g. --endpoints http://127.0.0.1:26657');
  for (const endpoint of options.endpoints) checkEndpointUrl(endpoint.rpcUrl);
  checkProtocolKind(options.protocol.kind);
  const protocol = findProtocol(options.protocol.kind);
  const problem = protocol?.check?.(options.protocol);
  if (problem) throw bad(problem.message, problem.hint);
  const shape = options.shape;
  if (shape.kind === 'fixed') checkRate(shape.rate);
  else if (shape.kind === 'ramp') {
    checkRate(shape.fromRate, 'ramp start rate');
    checkRate(shape.toRate, 'ramp end rate');
    if (options.durationMs === undefined)
      throw bad('a ramp needs a duration', 'give durationMs (--duration)');
  } else {
    if (shape.rates.length === 0) throw bad('steps load shape has no rates', 'give at least one rate');
    for (const rate of shape.rates) checkRate(rate);
    if (!Number.isFinite(shape.stepDurationMs) || shape.stepDurationMs <= 0) {
      throw bad(`step duration ${shape.stepDurationMs} ms is not allowed`, 'use a step duration above 0 ms');
    }
  }
  if (options.durationMs === undefined && options.transactions === undefined && shape.kind !== 'steps') {
    throw bad('neither a duration nor a transaction count was given', 'give one, e.g. --duration 30');
  }
  if (options.durationMs !== undefined && (!Number.isFinite(options.durationMs) || options.durationMs <= 0)) {
    throw bad(`duration ${options.durationMs} ms is not allowed`, 'use a duration above 0');
  }
  checkPositiveInteger(options.transactions, 'transaction count');
  checkTransactionSize(options.transactionSizeBytes);
  checkNonNegative(options.warmupMs, 'warm-up (ms)');
  checkNonNegative(options.cooldownMs, 'cool-down (ms)');
  if (options.confirm !== 'none' && options.confirm !== 'commit') {
    throw bad(`confirm mode ${JSON.stringify(options.confirm)} is not known`, 'use none or commit');
  }
  if (options.confirm === 'commit' && !protocol?.confirmsCommits) {
    throw bad(
      `--confirm commit is not available for protocol ${options.protocol.kind}`,
      `use --confirm none, or protocol ${committingKinds().join(' or ')}`,
    );
  }
  checkPositiveInteger(options.commitTimeoutMs, 'commit timeout (ms)');
  checkPositiveInteger(options.requestTimeoutMs, 'request timeout (ms)');
  checkPositiveInteger(options.connectionsPerEndpoint, 'connections per endpoint');
  checkPositiveInteger(options.pipelining, 'pipelining');
  if (options.transport !== undefined && options.transport !== 'undici' && options.transport !== 'raw') {
    throw bad(`transport ${JSON.stringify(options.transport)} is not known`, 'use --transport undici or raw');
  }
  if (options.transport === 'raw') {
    const secure = options.endpoints.find((e) => !e.rpcUrl.startsWith('http://'));
    if (secure) {
      throw bad(
        `transport raw speaks plain http:// only, not ${secure.rpcUrl}`,
        'use --transport undici for https:// endpoints',
      );
    }
  }
  checkPositiveInteger(options.maxInFlight, 'max in-flight');
  checkPositiveInteger(options.workers, 'workers');
  if ((options.workers ?? 1) > 1 && !isBuiltInProtocol(options.protocol.kind)) {
    throw bad(
      `protocol ${options.protocol.kind} was registered in this thread, so ${options.workers} load workers cannot speak it`,
      'use --workers 1, load it with loadProtocolModule (it is then loaded in every worker), or add it to BUILT_IN in src/protocols/registry.ts',
    );
  }
  if (options.share !== undefined) {
    const { index, count } = options.share;
    checkPositiveInteger(count, 'load client count');
    if (!Number.isInteger(index) || index < 0 || index >= count)
      throw bad(
        `load client share ${String(index)} of ${String(count)} is not allowed`,
        `use 0 .. ${count - 1}`,
      );
  }
  if (options.faultLoad !== undefined && !FAULT_LOAD_MODES.includes(options.faultLoad)) {
    throw bad(
      `fault load ${JSON.stringify(options.faultLoad)} is not known`,
      `use --fault-load ${FAULT_LOAD_MODES.join(', ')}`,
    );
  }
  if (options.downNodes !== undefined) {
    if (!(options.downNodes.buffer instanceof SharedArrayBuffer))
      throw bad('downNodes is not on a SharedArrayBuffer', 'make it with newDownNodes(endpoints.length)');
    if (options.downNodes.length !== options.endpoints.length)
      throw bad(
        `downNodes has ${options.downNodes.length} slots for ${options.endpoints.length} endpoints`,
        'make it with newDownNodes(endpoints.length)',
      );
  }
  // Unknown target nodes or unusable weights fail here, not inside a worker.
  createTargetPicker(options.endpoints, options.target);
}

/** The shared down-state of `count` endpoints that LoadOptions.downNodes takes (all up). */
export function newDownNodes(count: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(count * Int32Array.BYTES_PER_ELEMENT));
}
