/**
 * Protocols in a user's own module: `--protocol ./my-protocol.mjs`.
 *
 * The module's default export (or its export named `protocol`) is a `ProtocolDefinition`
 * (docs/protocols.md). It is loaded once per thread: here before the command's flags are
 * built (so its settings become flags), and again in each load worker thread, which is
 * handed the module's absolute path. A protocol that does not speak HTTP request/reply
 * (gRPC, a binary socket) gives its adapter a `send`: the generator then calls it for each
 * transaction instead of writing an HTTP request (`load/transport-direct.ts`).
 *
 * Every way a module can be wrong is one line naming the file and what is missing.
 */
import { access } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MeshbenchError } from '../common/errors.js';
import type { Protocol, ProtocolDefinition, RequestTemplate } from './protocol.js';
import type { ProtocolOptions } from './options.js';
import type { ProtocolSetting, SettingValue } from './settings.js';
import { httpProbe } from './readiness.js';

/** The value of `--protocol` names a module rather than a built-in kind. */
export function isModuleSpecifier(value: string): boolean {
  return (
    value.startsWith('./') || value.startsWith('../') || isAbsolute(value) || /\.(?:mjs|cjs|js)$/.test(value)
  );
}

const KIND = /^[a-z][a-z0-9-]{0,39}$/;
/** What a module protocol that sends by itself stands on for the HTTP members it does not use. */
const UNUSED_REQUEST: RequestTemplate = { method: 'POST', path: '/', headers: {} };

function moduleError(shown: string, problem: string, hint: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', `protocol module ${shown}: ${problem}`, { hint });
}

/**
 * Imports `specifier` (a path, relative to `cwd`) and checks that it exports a protocol
 * definition. Returns the definition, its `create` wrapped so every adapter it makes is
 * checked too and records the module's path among its settings.
 */
export async function importProtocolModule(
  specifier: string,
  cwd: string = process.cwd(),
): Promise<{ readonly definition: ProtocolDefinition; readonly path: string }> {
  const path = resolve(cwd, specifier);
  const shown = specifier;
  try {
    await access(path);
  } catch {
    throw moduleError(
      shown,
      `no such file (${path})`,
      'give the path of a .mjs or .js file that exports a protocol definition (docs/protocols.md)',
    );
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = ((error as Error).message ?? String(error)).split('\n')[0];
    throw moduleError(shown, `failed to load: ${reason}`, `run \`node ${shown}\` to see the whole error`);
  }
  const exported = (exports.default ?? exports.protocol) as Record<string, unknown> | undefined;
  if (exported === null || typeof exported !== 'object') {
    throw moduleError(
      shown,
      'exports no protocol definition',
      'export default { kind, create, ... } or export const protocol = { ... } (docs/protocols.md)',
    );
  }
  const definition = checkDefinition(exported, shown, relative(cwd, path) || path);
  return { definition, path };
}

function checkDefinition(
  exported: Record<string, unknown>,
  shown: string,
  recordedPath: string,
): ProtocolDefinition {
  const kind = exported.kind;
  if (typeof kind !== 'string' || !KIND.test(kind)) {
    throw moduleError(
      shown,
      `kind ${JSON.stringify(kind)} is not a protocol name`,
      'set kind to lower-case letters, digits and dashes, e.g. "etcd-grpc"',
    );
  }
  if (typeof exported.create !== 'function') {
    throw moduleError(
      shown,
      'create(options, runId) is missing',
      'add a create function that returns the adapter (docs/protocols.md)',
    );
  }
  for (const name of ['options', 'check', 'checkNodes', 'readiness', 'describe'] as const) {
    if (exported[name] !== undefined && typeof exported[name] !== 'function') {
      throw moduleError(shown, `${name} is not a function`, `make ${name} a function or leave it out`);
    }
  }
  const settings = exported.settings ?? [];
  if (!Array.isArray(settings)) {
    throw moduleError(shown, 'settings is not a list', 'make settings an array of settings, or leave it out');
  }
  for (const [index, setting] of (settings as unknown[]).entries()) {
    const { key, describe, parse } = (setting ?? {}) as Record<string, unknown>;
    const where = `settings[${index}]`;
    if (
      typeof key !== 'string' ||
      !key.startsWith(kind.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
    )
      throw moduleError(
        shown,
        `${where}.key ${JSON.stringify(key)} does not start with the protocol's kind`,
        `name it ${kind.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Something (it becomes --${kind}-something)`,
      );
    if (typeof describe !== 'string')
      throw moduleError(shown, `${where}.describe is missing`, 'describe the setting in a few words');
    if (typeof parse !== 'function')
      throw moduleError(
        shown,
        `${where}.parse is missing`,
        'add parse(value) returning the value or throwing',
      );
  }
  const given = exported as unknown as ProtocolDefinition;
  const create = given.create.bind(given);
  return {
    ...given,
    kind,
    settings: (settings as ProtocolSetting[]).map((setting) => ({
      ...setting,
      parse: lenientParse(setting),
    })),
    options: given.options?.bind(given) ?? ((() => ({ kind })) as ProtocolDefinition['options']),
    confirmsCommits: given.confirmsCommits === true,
    readiness: given.readiness?.bind(given) ?? (() => httpProbe('/health')),
    create: (options: ProtocolOptions, runId: string) =>
      checkAdapter(create(options, runId), shown, kind, recordedPath),
  };
}

/**
 * A module's `parse` may follow the contract (`{ value }` or `{ rule }`), or simply return
 * the value and throw an Error whose message is the rule.
 */
function lenientParse(setting: ProtocolSetting): ProtocolSetting['parse'] {
  return (value) => {
    try {
      const parsed = setting.parse(value) as unknown;
      if (parsed !== null && typeof parsed === 'object' && ('value' in parsed || 'rule' in parsed))
        return parsed as SettingValue;
      return { value: parsed };
    } catch (error) {
      return { rule: (error as Error).message || 'a value this setting takes' };
    }
  };
}

function checkAdapter(adapter: unknown, shown: string, kind: string, recordedPath: string): Protocol {
  if (adapter === null || typeof adapter !== 'object') {
    throw moduleError(
      shown,
      'create() returned no adapter',
      'return an object with body, probe and send or parseReply',
    );
  }
  const given = adapter as Partial<Protocol> & Record<string, unknown>;
  const missing = (name: string, hint: string) =>
    moduleError(shown, `the adapter's ${name} is missing`, hint);
  if (typeof given.body !== 'function')
    throw missing('body(tx, seq)', 'return the bytes to send for a transaction, as a string');
  if (typeof given.probe !== 'function')
    throw missing('probe(endpoint, timeoutMs)', 'resolve when the node answers, throw when it does not');
  const sends = typeof given.send === 'function';
  if (!sends) {
    if (typeof given.parseReply !== 'function')
      throw missing(
        'parseReply(status, body)',
        'add parseReply, or send(endpoint, body, options) for a protocol that is not HTTP',
      );
    const request = given.request as RequestTemplate | undefined;
    if (!request || typeof request.method !== 'string' || typeof request.path !== 'string')
      throw missing(
        'request { method, path, headers }',
        'add the HTTP request template, or send() for a protocol that is not HTTP',
      );
  }
  return {
    ...(given as Protocol),
    kind,
    request: (given.request as RequestTemplate | undefined) ?? UNUSED_REQUEST,
    parseReply: given.parseReply ?? (() => ({ kind: 'badResponse' })),
    repliesConfirmCommit: given.repliesConfirmCommit === true,
    recordedSettings: { ...(given.recordedSettings ?? {}), module: recordedPath },
  };
}
