/**
 * The ingest endpoint (`--ingest`): during a run, the system under test (or its clients)
 * POSTs datapoints to meshbench — JSON (`{"name", "value", "tags"?, "ts"?}` or an array)
 * or InfluxDB line protocol — at the URL each node finds in `MESHBENCH_INGEST_URL`. A sweep
 * observer: it serves plain node:http from the first deploy to the run's end (and closes on
 * a forced exit), puts each point on the running level's clock (ms since its load started),
 * and adds the points to that run's record as the `ingest` block (schema.ts).
 *
 * Where it listens: `--ingest-address`, else this machine's docker0 address, which the
 * containers of every local bridge network reach. Remote nodes get the URL only with an
 * explicit `--ingest-address` they can route to (see docs/ingest.md).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { badFlag, MeshbenchError } from '../../common/errors.js';
import { localDocker, releaseDocker } from '../../testbed/docker/connection.js';
import { parseIngest, type IngestPoint, type Precision } from './parse.js';
import type { IngestBlock, IngestPointRecord, IngestSeries } from './schema.js';

/**
 * What this observer uses of the sweep's level context (src/bench/observer.ts LevelContext;
 * a plug-in does not import the sweep's layer, so the shape is restated here).
 */
export interface IngestLevelContext {
  elapsedMs(): number;
  block(name: string, data: unknown): void;
}

/** Largest request body. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Points kept per run; more are counted (dropped_points). */
export const MAX_POINTS_PER_RUN = 100_000;
/** Refusals kept in the block, one line each. */
const MAX_ERRORS = 5;

export interface IngestOptions {
  /** Address to listen on; default: the gateway of the engine's bridge network (docker0's address). */
  readonly address?: string;
  /** Port; 0: any free one. */
  readonly port: number;
  readonly warn: (line: string) => void;
  readonly onForce?: (cleanup: () => Promise<void>) => () => void;
  /** Wall clock, ms since the epoch (tests pass their own). */
  readonly now?: () => number;
  /** The interfaces, when the engine cannot be asked (tests pass their own). */
  readonly interfaces?: typeof networkInterfaces;
  /** The Docker engine's bridge gateway, asked first (tests pass their own). */
  readonly bridgeGateway?: () => Promise<string | undefined>;
}

interface LevelPoints {
  readonly startWallMs: number;
  readonly points: IngestPointRecord[];
  requests: number;
  rejected: number;
  dropped: number;
  readonly errors: string[];
}

/** The address the docker0 bridge has here (listed only while it is up): local containers reach this machine on it. */
export function dockerBridgeAddress(
  interfaces: typeof networkInterfaces = networkInterfaces,
): string | undefined {
  return interfaces().docker0?.find((entry) => entry.family === 'IPv4')?.address;
}

/** What `GET /networks/{id}` answers about a network's addresses (the part read here). */
export interface EngineNetworkAnswer {
  readonly IPAM?: {
    readonly Config?: readonly { readonly Subnet?: string; readonly Gateway?: string }[] | null;
  };
}

/**
 * The gateway of a network, from the engine's answer: its IPAM gateway, or, when the engine
 * lists only the subnet (the default bridge does so on many engines), the subnet's first host
 * address, which is the one Docker gives the bridge. IPv4 only; undefined when none.
 */
export function networkGateway(answer: EngineNetworkAnswer): string | undefined {
  const configs = (answer.IPAM?.Config ?? []).filter(
    (config) => !(config.Subnet ?? config.Gateway ?? '').includes(':'),
  );
  const gateway = configs.find((config) => config.Gateway)?.Gateway;
  if (gateway !== undefined) return gateway;
  for (const config of configs) {
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(config.Subnet ?? '');
    if (!match) continue;
    const [a, b, c, d, bits] = match.slice(1).map(Number) as [number, number, number, number, number];
    if (bits > 30) continue;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const first = ((((a << 24) | (b << 16) | (c << 8) | d) & mask) >>> 0) + 1;
    return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
  }
  return undefined;
}

/**
 * The engine's default bridge network gateway (docker0's address, also while no container
 * uses it and the interface has no carrier, when os.networkInterfaces() leaves it out).
 */
export async function engineBridgeGateway(): Promise<string | undefined> {
  try {
    const docker = await localDocker();
    try {
      return networkGateway((await docker.getNetwork('bridge').inspect()) as EngineNetworkAnswer);
    } finally {
      releaseDocker(docker);
    }
  } catch {
    return undefined;
  }
}

/** A sweep observer (src/bench/observer.ts): preflight, nodeEnvironment, onLevelStart, onLoadEnd, onRunEnd. */
export class IngestCollector {
  readonly name = 'ingest';
  readonly #options: IngestOptions;
  readonly #now: () => number;
  #server: Server | undefined;
  #starting: Promise<string> | undefined;
  #url: string | undefined;
  #level: LevelPoints | undefined;
  #remoteWarned = false;
  #unregisterForce: (() => void) | undefined;
  /** Points that came between levels (not in any record). */
  betweenLevels = 0;

  constructor(options: IngestOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now());
  }

  /** The URL the nodes get, once listening. */
  get url(): string | undefined {
    return this.#url;
  }

  /** MESHBENCH_INGEST_URL for each node of a network about to be deployed. */
  async nodeEnvironment(network: string): Promise<Record<string, string>> {
    const url = await this.start();
    if (network === 'remote' && this.#options.address === undefined) {
      if (!this.#remoteWarned)
        this.#options.warn(
          `ingest: remote nodes get no MESHBENCH_INGEST_URL (${url} is this machine's docker bridge); give --ingest-address with an address the hosts can reach`,
        );
      this.#remoteWarned = true;
      return {};
    }
    return { MESHBENCH_INGEST_URL: url };
  }

  /** Binds the port before anything is deployed, so a taken port stops the run at once. */
  async preflight(): Promise<void> {
    await this.start();
  }

  /** Starts listening (once); resolves to the URL. */
  start(): Promise<string> {
    this.#starting ??= this.#listen();
    return this.#starting;
  }

  async #listen(): Promise<string> {
    const address =
      this.#options.address ??
      (await (this.#options.bridgeGateway ?? engineBridgeGateway)()) ??
      dockerBridgeAddress(this.#options.interfaces);
    if (address === undefined)
      throw badFlag(
        'ingest',
        true,
        'the Docker engine names no gateway of its bridge network for the containers to reach; give --ingest-address ADDRESS',
      );
    const server = createServer((request, response) => this.#handle(request, response));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new MeshbenchError(
            'PORT_IN_USE',
            `ingest: cannot listen on ${address}:${this.#options.port} (${error.code ?? error.message})`,
            { hint: 'give a free --ingest-port, or another --ingest-address' },
          ),
        ),
      );
      server.listen(this.#options.port, address, () => resolve());
    });
    server.unref();
    this.#server = server;
    this.#unregisterForce = this.#options.onForce?.(() => this.close());
    const { port } = server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    this.#url = `http://${host}:${port}/ingest`;
    return this.#url;
  }

  onLevelStart(_level: unknown, context: IngestLevelContext): void {
    this.#level = {
      startWallMs: this.#now() - context.elapsedMs(),
      points: [],
      requests: 0,
      rejected: 0,
      dropped: 0,
      errors: [],
    };
  }

  onLoadEnd(_level: unknown, _load: unknown, context: IngestLevelContext): void {
    const level = this.#level;
    this.#level = undefined;
    if (!level || this.#url === undefined) return;
    context.block('ingest', ingestBlock(this.#url, level));
  }

  async onRunEnd(): Promise<void> {
    await this.close();
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    this.#unregisterForce?.();
    this.#unregisterForce = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://ingest');
    if (request.method === 'GET' && url.pathname === '/health') {
      reply(response, 200, 'ok');
      return;
    }
    if (request.method !== 'POST') {
      reply(response, 405, 'POST datapoints (JSON or line protocol) to /ingest');
      return;
    }
    if (!['/', '/ingest', '/write', '/api/v2/write'].includes(url.pathname)) {
      reply(response, 404, `no ${url.pathname}; POST to /ingest`);
      return;
    }
    const receivedMs = this.#now();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('error', () => undefined);
    request.on('end', () => {
      if (tooLarge) {
        this.#refuse(
          response,
          413,
          `body of ${size} bytes is over ${MAX_BODY_BYTES}; send fewer points per request`,
        );
        return;
      }
      const precision = url.searchParams.get('precision') ?? 'ns';
      if (!['ns', 'us', 'ms', 's'].includes(precision)) {
        this.#refuse(response, 400, `precision=${precision}: use ns, us, ms or s`);
        return;
      }
      const parsed = parseIngest(
        Buffer.concat(chunks).toString('utf8'),
        request.headers['content-type'],
        precision as Precision,
      );
      if ('error' in parsed) {
        this.#refuse(response, 400, parsed.error);
        return;
      }
      this.#take(parsed.points, receivedMs);
      reply(response, 204, '');
    });
  }

  #refuse(response: ServerResponse, status: number, line: string): void {
    const level = this.#level;
    if (level) {
      level.rejected += 1;
      if (level.errors.length < MAX_ERRORS) level.errors.push(line);
    }
    reply(response, status, line);
  }

  #take(points: readonly IngestPoint[], receivedMs: number): void {
    const level = this.#level;
    if (!level) {
      this.betweenLevels += points.length;
      return;
    }
    level.requests += 1;
    for (const point of points) {
      if (level.points.length >= MAX_POINTS_PER_RUN) {
        level.dropped += 1;
        continue;
      }
      const wallMs = point.tsMs ?? receivedMs;
      level.points.push({
        name: point.name,
        value: point.value,
        ...(point.tags ? { tags: point.tags } : {}),
        t_ms: Math.round((wallMs - level.startWallMs) * 1000) / 1000,
        wall_ms: wallMs,
        ...(point.tsMs !== undefined ? { from_sender_clock: true } : {}),
      });
    }
  }
}

function reply(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  response.end(text === '' ? undefined : `${text}\n`);
}

/** The block of one run: its points and a summary per name. */
export function ingestBlock(url: string, level: Omit<LevelPoints, 'startWallMs'>): IngestBlock {
  const byName = new Map<string, number[]>();
  for (const point of level.points) {
    const values = byName.get(point.name) ?? [];
    values.push(point.value);
    byName.set(point.name, values);
  }
  const series: IngestSeries[] = [...byName].map(([name, values]) => ({
    name,
    count: values.length,
    mean: values.reduce((sum, value) => sum + value, 0) / values.length,
    min: values.reduce((a, b) => Math.min(a, b)),
    max: values.reduce((a, b) => Math.max(a, b)),
    last: values.at(-1) as number,
  }));
  return {
    url,
    points: level.points,
    series,
    requests: level.requests,
    rejected_requests: level.rejected,
    dropped_points: level.dropped,
    max_points: MAX_POINTS_PER_RUN,
    ...(level.errors.length > 0 ? { errors: level.errors } : {}),
  };
}
