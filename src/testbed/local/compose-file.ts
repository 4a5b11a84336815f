/**
 * What `local-network` needs from a compose project: which services are nodes, which
 * host ports they publish, which images they use, and the same project with every
 * object labelled for the run. The input is the project as the compose tool resolved
 * it (`docker-compose config` / `docker compose config --format json`: files merged,
 * anchors, merge keys, `extends`, `env_file` and `.env` applied, variables interpolated),
 * so nothing here re-implements Compose. Pure functions: a plain model in, a plain
 * model out (no Docker, no files), so they are unit-tested.
 *
 * Node rule (documented in docs/local-network.md):
 *   1. the services labelled `meshbench.role=node`; if no service has that label,
 *   2. the services that publish their RPC container port (label `meshbench.rpc-port`,
 *      default 26657).
 * Per node, `meshbench.protocol` names the protocol (default: the --protocol flag),
 * `meshbench.rpc-port` the RPC container port (default by protocol: cometbft 26657,
 * etcd 2379, http 80) and `meshbench.metrics-port` the Prometheus metrics container port.
 */
import { MeshbenchError } from '../../common/errors.js';
import { RUN_LABEL, ROLE_LABEL } from '../../common/labels.js';
import { DEFAULT_PROTOCOL, findProtocol } from '../../protocols/registry.js';

/** Marks objects created by the local testbed (so `--down` never touches remote sandboxes). */
export { METRICS_PORT_LABEL, PROTOCOL_LABEL, RPC_PORT_LABEL, TESTBED_LABEL } from '../../common/labels.js';
import { METRICS_PORT_LABEL, PROTOCOL_LABEL, RPC_PORT_LABEL, TESTBED_LABEL } from '../../common/labels.js';
export const DEFAULT_RPC_PORT = 26657;

/** The RPC container port a node of a protocol serves when no meshbench.rpc-port label says otherwise. */
export function defaultRpcPortFor(protocol: string | undefined): number {
  return findProtocol(protocol ?? DEFAULT_PROTOCOL)?.defaultRpcPort ?? DEFAULT_RPC_PORT;
}

export interface PublishedPort {
  readonly service: string;
  /** Host address it binds, `''` for all addresses. */
  readonly hostIp: string;
  /** Fixed host port, or undefined when Docker picks one. */
  readonly hostPort: number | undefined;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface ComposeNodeSpec {
  readonly service: string;
  readonly image: string | undefined;
  readonly hasBuild: boolean;
  readonly protocol: string | undefined;
  readonly rpcContainerPort: number;
  readonly metricsContainerPort: number | undefined;
  /** Whether the service publishes its RPC port on the host (needed only when nodes are reached through published ports). */
  readonly publishesRpc: boolean;
  /** The service's compose profiles: it starts only when one of them is active. */
  readonly profiles: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** How many containers it runs (`scale:`, or `deploy.replicas`); each is a node. */
  readonly replicas: number;
}

/** The containers a resolved service runs: `scale`, else `deploy.replicas`, else 1. */
function replicasOf(service: Record<string, unknown>): number {
  const deploy = isRecord(service.deploy) ? service.deploy : {};
  for (const value of [service.scale, deploy.replicas]) {
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
  }
  return 1;
}

/** The node containers a model starts: every node service's replicas. */
export function nodeContainerCount(model: ComposeModel): number {
  return model.nodes.reduce((total, node) => total + node.replicas, 0);
}

export interface ComposeModel {
  /** Every service that starts (its profiles active, or none), in the resolved project's order. */
  readonly services: readonly {
    readonly name: string;
    readonly image: string | undefined;
    readonly hasBuild: boolean;
  }[];
  readonly nodes: readonly ComposeNodeSpec[];
  /** How the nodes were found, for messages: by label or by published RPC port. */
  readonly nodeRule: 'label' | 'rpc-port';
  readonly publishedPorts: readonly PublishedPort[];
  /** Networks and volumes the project declares that compose creates (not external). */
  readonly networks: readonly string[];
  readonly volumes: readonly string[];
}

function fileError(path: string, problem: string, hint: string): MeshbenchError {
  return new MeshbenchError('COMPOSE_FILE', `compose file ${path} ${problem}`, { hint });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Labels as a map, from either compose form (`{k: v}` or `["k=v"]`). */
export function labelsOf(value: unknown): Record<string, string> {
  if (Array.isArray(value)) {
    const out: Record<string, string> = {};
    for (const item of value) {
      const text = String(item);
      const equals = text.indexOf('=');
      if (equals < 0) out[text] = '';
      else out[text.slice(0, equals)] = text.slice(equals + 1);
    }
    return out;
  }
  if (isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, item === null ? '' : String(item)]),
    );
  }
  return {};
}

function parseRange(text: string): [number, number] | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) return undefined;
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (from < 1 || to > 65535 || to < from) return undefined;
  return [from, to];
}

/**
 * One `ports:` entry, short (`"127.0.0.1:8080:80/tcp"`, `"8080-8081:80-81"`, `"80"`) or long
 * syntax (`{target, published, host_ip, protocol}`), expanded to single ports.
 */
export function parsePortEntry(service: string, entry: unknown): PublishedPort[] {
  if (isRecord(entry)) {
    const target = Number(entry.target);
    if (!Number.isInteger(target) || target < 1 || target > 65535) {
      throw new Error(`service ${service}: port entry without a valid target: ${JSON.stringify(entry)}`);
    }
    const protocol = entry.protocol === 'udp' ? 'udp' : 'tcp';
    const hostIp = typeof entry.host_ip === 'string' ? entry.host_ip : '';
    if (entry.published === undefined || entry.published === null || entry.published === '') {
      return [{ service, hostIp, hostPort: undefined, containerPort: target, protocol }];
    }
    const published = parseRange(String(entry.published));
    if (!published)
      throw new Error(`service ${service}: invalid published port ${JSON.stringify(entry.published)}`);
    return [{ service, hostIp, hostPort: published[0], containerPort: target, protocol }];
  }
  let text = String(entry).trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = text.lastIndexOf('/');
  if (slash >= 0) {
    protocol = text.slice(slash + 1) === 'udp' ? 'udp' : 'tcp';
    text = text.slice(0, slash);
  }
  // An IPv6 host address is written in brackets: "[::1]:8080:80".
  let hostIp = '';
  const bracket = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracket) {
    hostIp = bracket[1] ?? '';
    text = bracket[2] ?? '';
  }
  const parts = text.split(':');
  let hostPart: string | undefined;
  let containerPart: string;
  if (parts.length === 1) {
    containerPart = parts[0] ?? '';
  } else if (parts.length === 2) {
    hostPart = parts[0];
    containerPart = parts[1] ?? '';
  } else if (parts.length === 3 && !bracket) {
    hostIp = parts[0] ?? '';
    hostPart = parts[1];
    containerPart = parts[2] ?? '';
  } else {
    throw new Error(`service ${service}: cannot read port entry ${JSON.stringify(entry)}`);
  }
  const container = parseRange(containerPart);
  if (!container) throw new Error(`service ${service}: invalid container port in ${JSON.stringify(entry)}`);
  const count = container[1] - container[0] + 1;
  let host: [number, number] | undefined;
  if (hostPart !== undefined && hostPart !== '') {
    host = parseRange(hostPart);
    if (!host) throw new Error(`service ${service}: invalid host port in ${JSON.stringify(entry)}`);
    const hostCount = host[1] - host[0] + 1;
    // A host range with a single container port means "any one of these": treat as not fixed.
    if (hostCount !== count && count !== 1) {
      throw new Error(
        `service ${service}: host and container port ranges differ in ${JSON.stringify(entry)}`,
      );
    }
    if (hostCount !== count) host = undefined;
  }
  const out: PublishedPort[] = [];
  for (let index = 0; index < count; index++) {
    out.push({
      service,
      hostIp,
      hostPort: host ? host[0] + index : undefined,
      containerPort: container[0] + index,
      protocol,
    });
  }
  return out;
}

function portLabel(labels: Record<string, string>, label: string, service: string): number | undefined {
  const raw = labels[label];
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`service ${service}: label ${label}=${raw} is not a port number`);
  }
  return port;
}

/** Compose writes a literal `$` as `$$` in its resolved output (so the output can be read again). */
function unescapeDollars(text: string): string {
  return text.replaceAll('$$', '$');
}

/**
 * Which services start: those without profiles, and those with an active one
 * (`COMPOSE_PROFILES`, comma-separated; `*` activates all). compose v1's `config`
 * lists every service whatever the profiles; v2's lists only the active ones.
 */
export function serviceIsActive(profiles: readonly string[], active: readonly string[]): boolean {
  if (profiles.length === 0) return true;
  return active.includes('*') || profiles.some((profile) => active.includes(profile));
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/**
 * The model of a project as the compose tool resolved it. `source` names the files in
 * messages. Throws MeshbenchError('COMPOSE_FILE') with a one-line message and fix.
 */
export function readComposeModel(
  resolved: unknown,
  source: string,
  options: { readonly protocol?: string; readonly activeProfiles?: readonly string[] } = {},
): ComposeModel {
  const fix = 'fix the file (see docs/local-network.md) or pass another with --docker-compose-path';
  if (!isRecord(resolved) || !isRecord(resolved.services) || Object.keys(resolved.services).length === 0) {
    throw fileError(source, 'has no services', `add a services: section with your nodes, or ${fix}`);
  }
  const active = options.activeProfiles ?? [];
  const services: { name: string; image: string | undefined; hasBuild: boolean }[] = [];
  const publishedPorts: PublishedPort[] = [];
  const candidates: (ComposeNodeSpec & { role: string | undefined })[] = [];
  try {
    for (const [name, raw] of Object.entries(resolved.services)) {
      const service = isRecord(raw) ? raw : {};
      const profiles = stringList(service.profiles);
      if (!serviceIsActive(profiles, active)) continue;
      const image = typeof service.image === 'string' ? unescapeDollars(service.image) : undefined;
      const hasBuild = service.build !== undefined && service.build !== null;
      if (image === undefined && !hasBuild) throw new Error(`service ${name} has neither image nor build`);
      services.push({ name, image, hasBuild });
      const ports = Array.isArray(service.ports)
        ? service.ports.flatMap((entry) => parsePortEntry(name, entry))
        : [];
      publishedPorts.push(...ports);
      const labels = Object.fromEntries(
        Object.entries(labelsOf(service.labels)).map(([key, value]) => [key, unescapeDollars(value)]),
      );
      const rpcContainerPort =
        portLabel(labels, RPC_PORT_LABEL, name) ??
        defaultRpcPortFor(labels[PROTOCOL_LABEL] || options.protocol);
      candidates.push({
        service: name,
        image,
        hasBuild,
        protocol: labels[PROTOCOL_LABEL] || undefined,
        rpcContainerPort,
        metricsContainerPort: portLabel(labels, METRICS_PORT_LABEL, name),
        publishesRpc: ports.some(
          (port) => port.containerPort === rpcContainerPort && port.protocol === 'tcp',
        ),
        profiles,
        labels,
        replicas: replicasOf(service),
        role: labels[ROLE_LABEL],
      });
    }
  } catch (error) {
    throw fileError(source, `is invalid: ${(error as Error).message}`, fix);
  }

  const labelled = candidates.filter((candidate) => candidate.role === 'node');
  const nodeRule = labelled.length > 0 ? 'label' : 'rpc-port';
  const chosen = labelled.length > 0 ? labelled : candidates.filter((candidate) => candidate.publishesRpc);
  if (chosen.length === 0) {
    throw fileError(
      source,
      `has no node services (none labelled ${ROLE_LABEL}=node, none publishing port ${defaultRpcPortFor(options.protocol)})`,
      `label each node service ${ROLE_LABEL}=node (and ${RPC_PORT_LABEL}=<its RPC port>)`,
    );
  }
  return {
    services,
    nodes: chosen.map(({ role: _role, ...node }) => node),
    nodeRule,
    publishedPorts,
    networks: declaredNames(resolved.networks),
    volumes: declaredNames(resolved.volumes),
  };
}

function isExternal(value: unknown): boolean {
  return isRecord(value) && (value.external === true || isRecord(value.external));
}

/** The networks or volumes a project declares that compose creates (not external). */
function declaredNames(section: unknown): string[] {
  return isRecord(section)
    ? Object.entries(section)
        .filter(([, value]) => !isExternal(value))
        .map(([name]) => name)
    : [];
}

/** `labels` of one object with ours added; either compose form in, the map form out. */
function withLabels(value: unknown, labels: Readonly<Record<string, string>>): Record<string, unknown> {
  const object = isRecord(value) ? value : {};
  return { ...object, labels: { ...labelsOf(object.labels), ...labels } };
}

/** A name Docker takes as one component of an image's repository: lower case, `[a-z0-9]` joined by `-`. */
function imageNamePart(text: string): string {
  const part = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return part === '' ? 'project' : part;
}

/** The image a service with `build:` and no `image:` is built as, for the project in that folder. */
export function builtImageName(projectDirectory: string, service: string): string {
  const folder = projectDirectory.split(/[\\/]/).filter(Boolean).at(-1) ?? '';
  return `meshbench-build/${imageNamePart(folder)}-${imageNamePart(service)}:latest`;
}

/**
 * Compose names the image it builds for a service with `build:` and no `image:` after the
 * project, and every run is a compose project of its own, so each run would build and leave
 * an image of its own. Each such service gets `image:` named after the user's project folder
 * and the service instead (builtImageName): runs share one image, built again by each run's
 * `up --build` from Docker's build cache. Returns the project, the services named, and the
 * image of every service that builds (named here or by the file).
 */
export function nameBuiltImages(
  resolved: Record<string, unknown>,
  projectDirectory: string,
): {
  readonly project: Record<string, unknown>;
  readonly named: readonly string[];
  readonly images: readonly string[];
} {
  if (!isRecord(resolved.services)) return { project: resolved, named: [], images: [] };
  const named: string[] = [];
  const images = new Set<string>();
  const services = Object.fromEntries(
    Object.entries(resolved.services).map(([name, service]) => {
      if (!isRecord(service) || service.build === undefined || service.build === null) return [name, service];
      if (typeof service.image === 'string') {
        images.add(service.image);
        return [name, service];
      }
      named.push(name);
      images.add(builtImageName(projectDirectory, name));
      return [name, { ...service, image: builtImageName(projectDirectory, name) }];
    }),
  );
  return { project: named.length === 0 ? resolved : { ...resolved, services }, named, images: [...images] };
}

/**
 * The resolved project with the run's labels on every object compose creates: each
 * service's containers, the default network and every network and volume it declares
 * (external ones are left alone). Only `labels` change: compose runs this one file, so
 * nothing is merged and the project means what the user's files mean.
 */
export function labelComposeProject(
  resolved: Record<string, unknown>,
  runId: string,
): Record<string, unknown> {
  const labels = { [RUN_LABEL]: runId, [TESTBED_LABEL]: 'local' };
  const services = isRecord(resolved.services) ? resolved.services : {};
  const networks = isRecord(resolved.networks) ? resolved.networks : {};
  const labelled: Record<string, unknown> = {
    ...resolved,
    services: Object.fromEntries(
      Object.entries(services).map(([name, service]) => [name, withLabels(service, labels)]),
    ),
    networks: Object.fromEntries(
      Object.entries({ default: networks.default ?? null, ...networks }).map(([name, network]) => [
        name,
        isExternal(network) ? network : withLabels(network, labels),
      ]),
    ),
  };
  if (isRecord(resolved.volumes)) {
    labelled.volumes = Object.fromEntries(
      Object.entries(resolved.volumes).map(([name, volume]) => [
        name,
        isExternal(volume) ? volume : withLabels(volume, labels),
      ]),
    );
  }
  return labelled;
}
