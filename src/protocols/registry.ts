/**
 * The protocols meshbench knows, in the order --help lists their settings. A new
 * protocol is one file exporting a `ProtocolDefinition` and one line in BUILT_IN;
 * everything else (flags, the plan, validation, readiness, settling, commit
 * confirmation, reports) asks the definition or its adapter.
 */
import { MeshbenchError } from '../common/errors.js';
import { cometbft } from './cometbft.js';
import { etcd } from './etcd.js';
import { http } from './http.js';
import { mesh } from './mesh.js';
import { importProtocolModule } from './module.js';
import type { ProtocolOptions } from './options.js';
import type { Protocol, ProtocolDefinition, ProtocolKind } from './protocol.js';
import type { ProtocolSetting } from './settings.js';

/** The definition of every protocol; the first is the default. */
const BUILT_IN: readonly ProtocolDefinition[] = [cometbft, http, etcd, mesh];

const registered: ProtocolDefinition[] = [...BUILT_IN];

/** The protocol a run speaks when none is named. */
export const DEFAULT_PROTOCOL: ProtocolKind = 'cometbft';

/**
 * Adds a protocol at run time (a script's or a test's own). Its setting keys must be
 * new; it is known in this thread only (load worker threads see the built-in ones).
 */
export function registerProtocol<Options extends ProtocolOptions>(
  definition: ProtocolDefinition<Options>,
): () => void {
  const added = definition as unknown as ProtocolDefinition;
  if (findProtocol(added.kind)) throw new Error(`protocol ${added.kind} is already registered`);
  const taken = new Set(protocolSettings().map(({ setting }) => setting.key));
  const clash = added.settings.find((setting) => taken.has(setting.key));
  if (clash) throw new Error(`setting ${clash.key} of protocol ${added.kind} is already taken`);
  registered.push(added);
  return () => {
    const index = registered.indexOf(added);
    if (index >= 0) registered.splice(index, 1);
  };
}

/** Every known protocol, in registry order. */
export function protocolDefinitions(): readonly ProtocolDefinition[] {
  return registered;
}

/** What `--protocol` accepts: the known kinds, and the modules by the paths they were loaded with. */
export function protocolChoices(): readonly string[] {
  return [...protocolKinds(), ...[...modules.values()].flatMap((loaded) => [...loaded.specifiers])];
}

/** The known kinds, sorted (as messages list them). */
export function protocolKinds(): readonly ProtocolKind[] {
  return registered.map((definition) => definition.kind).sort();
}

/** The kinds whose adapters can confirm commits, sorted. */
export function committingKinds(): readonly ProtocolKind[] {
  return registered
    .filter((definition) => definition.confirmsCommits)
    .map((definition) => definition.kind)
    .sort();
}

/** Whether `kind` is known in every thread, load workers included: built in, or loaded from a module. */
export function isBuiltInProtocol(kind: string): boolean {
  return (
    BUILT_IN.some((definition) => definition.kind === kind) ||
    [...modules.keys()].some((definition) => definition.kind === kind)
  );
}

/** The definition of a kind, or of a module by the specifier it was loaded with (`./my-protocol.mjs`). */
export function findProtocol(kind: string): ProtocolDefinition | undefined {
  return (
    registered.find((definition) => definition.kind === kind) ??
    [...modules].find(([, loaded]) => loaded.specifiers.has(kind))?.[0]
  );
}

/**
 * The protocol's problem with a network of `nodes` nodes (`checkNodes`: mesh's delivery to more
 * nodes than there are), as one line (exit 2); none, or a protocol without the rule: returns.
 */
export function checkProtocolNodes(options: ProtocolOptions, nodes: number, network: string): void {
  const problem = findProtocol(options.kind)?.checkNodes?.(options, nodes, network);
  if (problem) throw new MeshbenchError('BAD_FLAG', problem.message, { hint: problem.hint, exitCode: 2 });
}

/** Protocols loaded from users' modules, with their absolute paths (load workers import them too). */
const modules = new Map<ProtocolDefinition, { readonly path: string; readonly specifiers: Set<string> }>();

/**
 * Loads and registers the protocol a user's module exports (`--protocol ./my-protocol.mjs`),
 * once per path and thread; returns its definition. A bad module is one BAD_FLAG line.
 */
export async function loadProtocolModule(specifier: string, cwd?: string): Promise<ProtocolDefinition> {
  const known = findProtocol(specifier);
  if (known) return known;
  const { definition, path } = await importProtocolModule(specifier, cwd);
  for (const [loaded, where] of modules) {
    if (where.path === path) {
      where.specifiers.add(specifier);
      return loaded;
    }
  }
  if (findProtocol(definition.kind)) {
    throw new MeshbenchError(
      'BAD_FLAG',
      `protocol module ${specifier}: kind ${definition.kind} is already a protocol`,
      { hint: 'give the module a kind of its own' },
    );
  }
  const taken = new Set(protocolSettings().map(({ setting }) => setting.key));
  const clash = definition.settings.find((setting) => taken.has(setting.key));
  if (clash) {
    throw new MeshbenchError(
      'BAD_FLAG',
      `protocol module ${specifier}: setting ${clash.key} is already another protocol's`,
      { hint: "start its settings keys with the module's own kind" },
    );
  }
  registered.push(definition);
  modules.set(definition, { path, specifiers: new Set([specifier, path]) });
  return definition;
}

/** Whether `kind` is a protocol loaded from a user's module (by its kind or a specifier it was loaded with). */
export function isProtocolModule(kind: string): boolean {
  return [...modules].some(([definition, loaded]) => definition.kind === kind || loaded.specifiers.has(kind));
}

/** The absolute paths of the protocol modules loaded in this thread (handed to load workers). */
export function protocolModulePaths(): readonly string[] {
  return [...modules.values()].map((loaded) => loaded.path);
}

/** The definition of `kind`; throws a one-line BAD_FLAG error naming the known ones. */
export function protocolDefinition(kind: string): ProtocolDefinition {
  const definition = findProtocol(kind);
  if (!definition) {
    throw new MeshbenchError('BAD_FLAG', `protocol ${JSON.stringify(kind)} is not known`, {
      hint: `use one of ${protocolKinds().join(', ')}`,
    });
  }
  return definition;
}

/** Every protocol's settings, each with its protocol, in registry order. */
export function protocolSettings(): readonly {
  readonly protocol: ProtocolDefinition;
  readonly setting: ProtocolSetting;
}[] {
  return registered.flatMap((protocol) => protocol.settings.map((setting) => ({ protocol, setting })));
}

/** The options of `kind` from setting values keyed by setting key (others' settings are ignored). */
export function protocolOptionsFrom(
  kind: string,
  values: Readonly<Record<string, unknown>> = {},
  given: Readonly<Record<string, unknown>> = values,
): ProtocolOptions {
  return protocolDefinition(kind).options(values, given);
}

/** The adapter for `options`; `runId` is the generator run's (etcd puts it in its keys). */
export function createProtocol(options: ProtocolOptions, runId: string): Protocol {
  return protocolDefinition(options.kind).create(options, runId);
}

/** How reports name a run's protocol, e.g. `cometbft (async)` or `etcd`. */
export function describeProtocol(options: ProtocolOptions): string {
  return findProtocol(options.kind)?.describe?.(options) ?? options.kind;
}
