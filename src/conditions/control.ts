/**
 * Live conditions: while a run goes, `conditions set|clear|show` (src/cli/conditions.ts)
 * changes its links by hand. The conditioner serves a small HTTP endpoint on a Unix
 * socket only this user can reach (<tmpdir>/meshbench-control/<run>.sock, mode 0600) and
 * announces it in <run>.json beside it; each change is an event like a scripted one,
 * starting now on the level's clock and lasting until cleared or the level's end.
 *
 *   GET  /state   the run, its nodes and the live events
 *   POST /set     one event as JSON: the scenario fields without a time ({ action, nodes|links, delay, … })
 *   POST /clear   every live event off
 */
import { createServer, request, type Server } from 'node:http';
import { readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../common/process-alive.js';
import {
  networkEventOf,
  networkEventSchema,
  NetworkEventProblem,
  type NetworkEvent,
} from '../scenario/events.js';
import { makeDirs } from '../common/make-dirs.js';

export function controlDir(): string {
  return join(tmpdir(), 'meshbench-control');
}

export interface ControlAnnouncement {
  /** The network's run id (its containers' label). */
  readonly runId: string;
  /** The benchmark run that deployed it (the id of its run folder), when known. */
  readonly benchmarkRunId?: string;
  /** Which of the run's networks: local, remote… */
  readonly network?: string;
  readonly pid: number;
  readonly socket: string;
  readonly nodes: readonly string[];
  readonly startedAt: string;
}

export interface ControlHandlers {
  /** Applies a live event; resolves with a line describing what changed. */
  set(event: NetworkEvent, raw: unknown): Promise<string>;
  clear(): Promise<string>;
  state(): unknown;
}

/** Reads an event given without a time (a live change). */
export function liveEventOf(raw: unknown, nodeIds: readonly string[]): NetworkEvent {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new NetworkEventProblem(
      'event',
      'give one event, e.g. { action: delay, nodes: node1, delay: 100ms }',
    );
  }
  for (const key of ['at', 'from', 'to']) {
    if (key in raw)
      throw new NetworkEventProblem(key, 'a live change starts now and lasts until cleared: give no time');
  }
  const parsed = networkEventSchema.safeParse({ ...raw, at: 0 });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || 'event';
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
        : issue?.code === 'invalid_value'
          ? `must be one of ${issue.values.map(String).join(', ')}`
          : (issue?.message ?? 'not valid');
    throw new NetworkEventProblem(field, message);
  }
  const event = networkEventOf(parsed.data, () => 0);
  const named = [
    ...(event.selector.kind === 'nodes' ? event.selector.nodes : []),
    ...(event.selector.kind === 'links' ? event.selector.links.flatMap((link) => [link.from, link.to]) : []),
    ...(event.partition?.groups?.flat() ?? []),
  ];
  const unknown = named.find((node) => !nodeIds.includes(node));
  if (unknown)
    throw new NetworkEventProblem(
      'nodes',
      `no node ${JSON.stringify(unknown)} in this network (nodes: ${nodeIds.join(', ')})`,
    );
  return event;
}

/** Serves the control endpoint of one run until close(). */
export class ControlServer {
  readonly #server: Server;
  readonly #socket: string;
  readonly #announcement: string;

  private constructor(server: Server, socket: string, announcement: string) {
    this.#server = server;
    this.#socket = socket;
    this.#announcement = announcement;
  }

  static async start(
    runId: string,
    nodes: readonly string[],
    handlers: ControlHandlers,
    about: { readonly benchmarkRunId?: string; readonly network?: string } = {},
  ): Promise<ControlServer> {
    const dir = controlDir();
    await makeDirs(dir, 0o700);
    // what a run killed with SIGKILL could not remove goes now (as `conditions` does)
    await liveControls();
    const socket = join(dir, `${runId}.sock`);
    await rm(socket, { force: true });
    const server = createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(body)}\n`);
      };
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void (async () => {
          try {
            if (req.method === 'GET' && req.url === '/state') return reply(200, handlers.state());
            if (req.method === 'POST' && req.url === '/clear')
              return reply(200, { line: await handlers.clear() });
            if (req.method === 'POST' && req.url === '/set') {
              let raw: unknown;
              try {
                raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              } catch {
                return reply(400, { error: 'the body is not JSON' });
              }
              try {
                const event = liveEventOf(raw, nodes);
                return reply(200, { line: await handlers.set(event, raw) });
              } catch (error) {
                if (error instanceof NetworkEventProblem)
                  return reply(400, { error: `${error.field}: ${error.message}` });
                throw error;
              }
            }
            return reply(404, {
              error: `no ${req.method ?? ''} ${req.url ?? ''} (use GET /state, POST /set, POST /clear)`,
            });
          } catch (error) {
            return reply(500, { error: error instanceof Error ? error.message : String(error) });
          }
        })();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    server.unref();
    await chmod(socket, 0o600);
    const announcement = join(dir, `${runId}.json`);
    const body: ControlAnnouncement = {
      runId,
      ...about,
      pid: process.pid,
      socket,
      nodes,
      startedAt: new Date().toISOString(),
    };
    await writeFile(announcement, `${JSON.stringify(body)}\n`, { mode: 0o600 });
    return new ControlServer(server, socket, announcement);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await rm(this.#socket, { force: true });
    await rm(this.#announcement, { force: true });
  }
}

/** The runs that serve a control endpoint now (their process alive); stale announcements are removed. */
export async function liveControls(): Promise<ControlAnnouncement[]> {
  const dir = controlDir();
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const out: ControlAnnouncement[] = [];
  for (const name of names) {
    try {
      const entry = JSON.parse(await readFile(join(dir, name), 'utf8')) as ControlAnnouncement;
      if (processAlive(entry.pid)) out.push(entry);
      else {
        await rm(join(dir, name), { force: true });
        await rm(entry.socket, { force: true });
      }
    } catch {
      // half-written or foreign: not a run
    }
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** One request to a run's control endpoint: the status and the JSON reply. */
export function controlRequest(
  socket: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
            });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
