/**
 * Refnode performance (issue 2): 4 nodes, 512-byte txs.
 *   1. peak: an open-loop sender offers a high rate; committed tx/s is counted from the
 *      NewBlock events of node0's /websocket (only txs of this run, inside the measure window);
 *   2. latency: 1,000 tx/s; submit-to-commit = NewBlock event arrival - intended send time
 *      (coordinated-omission corrected: the schedule, not replies, sets the send times).
 * CPU (user+sys) and RSS per node come from /proc for local processes and from docker stats
 * (the containers' cgroup CPU counters) for containers.
 * Runs against 4 local processes and, when the image exists and systems/refnode/docker-compose.yml is
 * there (`npm run build && npm run images`), against the 4-node compose network too.
 *
 * A declaration on the bench harness (lib/harness.ts): the sides are the networks
 * (local-processes, docker-compose), `--repeat N` rounds of each (default 2), the order turned
 * each round; a round starts its side's network, runs the latency phase and every peak rate, and
 * stops it. The record keeps every round, each figure's spread across rounds, the two networks
 * compared figure by figure, and the load average before, during (every 5 s) and after. A rate
 * counts as sustained only when every round sustained it on a quiet machine; mixed rounds or a
 * busy machine make it "inconclusive" (lib/verdict.ts). A rate not sustained is a finding of the
 * sweep, not a failed claim: the exit code stays 0.
 *
 * With `--compare before=BUNDLE,after=BUNDLE[+ENV=VALUE…]` the sides are the given refnode
 * bundles on 4 local processes, peak phases only, alternating round by round (ABBA…); the claim
 * is each side's committed tx/s against the first side's (>= 90 %, exit code 1 when it fails),
 * and the first two sides are compared figure by figure.
 *
 * Usage: npm run bench:refnode [-- --peak-rates 5000,7500,10000 --seconds 15 --no-docker --no-local]
 * (`-- --help` lists every flag). Writes benchmarks/results/refnode-<timestamp>.json.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Agent, request } from 'undici';
import YAML from 'yaml';
import WebSocket from 'ws';
import { choiceFlag, FlagError, numberFlag, numberListFlag, type FlagValues } from './lib/flags.js';
import { runBench } from './lib/harness.js';
import { cpuTicks, rssBytes, TICK_MS } from './lib/proc.js';
import {
  judgeRatio,
  judgeThreshold,
  spread,
  verdictLine,
  type Judgement,
  type LoadRecord,
} from './lib/verdict.js';

const root = resolve(import.meta.dirname, '../..');
const USAGE = {
  name: 'bench:refnode',
  summary:
    "The reference node's committed throughput (peak sweep) and submit-to-commit latency, 4 nodes,\n" +
    'as local processes and as the compose network (when the image exists).',
  notes: [
    'Env REFNODE_BENCH_NODE_ARGS: extra node flags for the local processes (e.g. --cpu-prof).',
    'Writes benchmarks/results/refnode-<timestamp>.json.',
  ],
};
const FLAGS = {
  'peak-rates': {
    type: 'string',
    valueName: 'R1,R2',
    default: '5000,7500,10000',
    description: 'offered rates (tx/s) of the peak sweep',
  },
  'latency-rate': {
    type: 'string',
    valueName: 'R',
    default: '1000',
    description: 'rate of the latency phase',
  },
  seconds: {
    type: 'string',
    valueName: 'N',
    default: '15',
    description: 'measured seconds per phase (after 3 s warm-up)',
  },
  'tx-bytes': { type: 'string', valueName: 'N', default: '512', description: 'transaction size' },
  batch: {
    type: 'string',
    valueName: 'N',
    default: '20',
    description: 'txs per JSON-RPC batch POST in the peak phase (1: one URI GET per tx)',
  },
  fsync: {
    type: 'string',
    valueName: 'true|false',
    default: 'true',
    description: "the nodes' fsync setting",
  },
  'no-docker': { type: 'boolean', default: false, description: 'skip the compose network' },
  'no-local': { type: 'boolean', default: false, description: 'skip the local processes' },
  compare: {
    type: 'string',
    valueName: 'A=BUNDLE,B=BUNDLE[+ENV=V]',
    description:
      'local processes only, peak phases only: alternate rounds between refnode bundles, the first the baseline (e.g. before=/tmp/old/dist/refnode/refnode.js,after=dist/refnode/refnode.js,unsigned=dist/refnode/refnode.js+REFNODE_SIGNING=off)',
  },
} as const;

interface Args {
  readonly peakRates: readonly number[];
  readonly latencyRate: number;
  readonly seconds: number;
  readonly txBytes: number;
  readonly batch: number;
  readonly fsync: 'true' | 'false';
  readonly docker: boolean;
  readonly local: boolean;
  /** --compare: the bundles to alternate (local processes, peak phases only). */
  readonly compare: readonly Side[] | undefined;
}

function parseArgs(values: FlagValues<typeof FLAGS>): Args {
  return {
    peakRates: numberListFlag('peak-rates', values['peak-rates'], { min: 1 }),
    latencyRate: numberFlag('latency-rate', values['latency-rate'], { min: 1 }),
    seconds: numberFlag('seconds', values.seconds, { min: 1 }),
    txBytes: numberFlag('tx-bytes', values['tx-bytes'], { integer: true, min: 8 }),
    batch: numberFlag('batch', values.batch, { integer: true, min: 1 }),
    fsync: choiceFlag('fsync', values.fsync, ['true', 'false']) ?? 'true',
    docker: values['no-docker'] !== true,
    local: values['no-local'] !== true,
    compare: values.compare === undefined ? undefined : parseSides(values.compare),
  };
}
const WARMUP_S = 3;

interface Network {
  readonly kind: 'local-processes' | 'docker-compose';
  readonly rpcUrls: string[];
  /** Cumulative CPU seconds and RSS bytes per node. */
  sample(): Promise<{ cpuSeconds: number; rssBytes: number }[]>;
  stop(): Promise<void>;
}

interface PhaseResult {
  readonly offeredRate: number;
  readonly seconds: number;
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly errors: number;
  readonly committedInWindow: number;
  /** Of the txs scheduled after warm-up, the share committed by the end of the drain. */
  readonly committedShareOfScheduled: number;
  readonly committedTxPerSec: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number; count: number };
  readonly perNode: { cpuPercentOfOneCore: number; rssMiB: number }[];
  /** All nodes' CPU time (user+system) from the measured window's start to the end of the drain, per tx committed in that time. */
  readonly cpuMsPerCommittedTx: number;
  readonly blocks: number;
  readonly senderLagMs: { p50: number; p99: number; max: number };
  readonly viewChanges: number[];
  readonly subscriptionLost: string | undefined;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

async function waitReady(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      try {
        const r = await request(`${url}/status`);
        const body = (await r.body.json()) as { result?: { sync_info?: { catching_up?: boolean } } };
        if (r.statusCode === 200 && body.result?.sync_info?.catching_up === false) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
      await sleep(200);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One side of a --compare run: a refnode bundle and extra environment for its processes. */
interface Side {
  readonly name: string;
  readonly bundle: string;
  readonly env: Readonly<Record<string, string>>;
}

function parseSides(text: string): Side[] {
  const sides = text.split(',').map((item) => {
    const m = /^([A-Za-z0-9_-]+)=([^+]+)((?:\+[A-Z0-9_]+=[^+]*)*)$/.exec(item.trim());
    if (m === null) throw new FlagError(`--compare entry '${item}' is not NAME=BUNDLE[+ENV=VALUE…]`);
    const bundle = resolve(root, m[2]!);
    if (!existsSync(bundle)) throw new FlagError(`--compare: ${bundle} does not exist (build it first)`);
    const env = Object.fromEntries(
      m[3]!
        .split('+')
        .filter((e) => e !== '')
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    return { name: m[1]!, bundle, env };
  });
  if (sides.length < 2) throw new FlagError('--compare needs at least two sides');
  return sides;
}

async function startLocal(fsync: string, side?: Side): Promise<Network> {
  const bundle = side?.bundle ?? join(root, 'dist/refnode/refnode.js');
  const dir = join(tmpdir(), `refnode-bench-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const peers = [0, 1, 2, 3].map((i) => `node${i}@127.0.0.1:${ports[4 + i]}`).join(',');
  const procs: ChildProcess[] = [0, 1, 2, 3].map((i) =>
    spawn(
      process.execPath,
      [
        // e.g. REFNODE_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the nodes
        ...(process.env.REFNODE_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
        bundle,
        '--id',
        `node${i}`,
        '--peers',
        peers,
        '--rpc-port',
        String(ports[i]),
        '--p2p-port',
        String(ports[4 + i]),
        '--metrics-port',
        '0',
        '--data-dir',
        join(dir, `node${i}`),
        '--fsync',
        fsync,
        '--log-level',
        'warn',
      ],
      // their own process group: Ctrl-C stops the run after the round, not the nodes in it
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...side?.env }, detached: true },
    ),
  );
  const rpcUrls = [0, 1, 2, 3].map((i) => `http://127.0.0.1:${ports[i]}`);
  await waitReady(rpcUrls, 20_000);
  return {
    kind: 'local-processes',
    rpcUrls,
    async sample() {
      return procs.map((p) => procSample(p.pid as number));
    },
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((r) =>
              p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM')),
            ),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['image', 'inspect', 'meshbench/refnode:latest'], { stdio: 'ignore' });
    return existsSync(join(root, 'systems/refnode/docker-compose.yml'));
  } catch {
    return false;
  }
}

/**
 * Starts the repo's compose network under its own project name, with the published ports moved
 * to free ones (so it can run beside other engineers' networks) and a meshbench.run label.
 */
async function startCompose(fsync: string): Promise<Network> {
  const project = `refnodebench${process.pid}`;
  const spec = YAML.parse(readFileSync(join(root, 'systems/refnode/docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { ports?: string[]; labels?: Record<string, string>; environment?: Record<string, string> }
    >;
  };
  const names = Object.keys(spec.services).sort();
  const ports = await Promise.all(names.map(() => freePort()));
  names.forEach((name, i) => {
    const svc = spec.services[name]!;
    svc.ports = [`127.0.0.1:${ports[i]}:26657`];
    svc.labels = { ...svc.labels, 'meshbench.run': project };
    svc.environment = { ...svc.environment, REFNODE_FSYNC: fsync };
  });
  const dir = join(tmpdir(), project);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'docker-compose.yml');
  writeFileSync(file, YAML.stringify(spec));
  const compose = (...a: string[]): string =>
    execFileSync('docker-compose', ['-p', project, '-f', file, ...a], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  compose('up', '-d');
  const rpcUrls = ports.map((p) => `http://127.0.0.1:${p}`);
  try {
    const ids = names.map((name) => compose('ps', '-q', name).trim());
    const pids = ids.map((id) =>
      Number(execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { encoding: 'utf8' }).trim()),
    );
    await waitReady(rpcUrls, 60_000);
    return {
      kind: 'docker-compose',
      rpcUrls,
      async sample() {
        // Each container runs one node process (its entrypoint): read its counters from the host's /proc.
        return pids.map((pid) => procSample(pid));
      },
      async stop() {
        // Evidence for slow disks: the nodes warn when one group fdatasync takes over 250 ms.
        const logs = compose('logs', '--no-color');
        const slow = logs.split('\n').filter((l) => l.includes('fdatasync of the block store and WAL took'));
        if (slow.length > 0) {
          process.stderr.write(
            `bench-refnode: ${slow.length} slow fdatasync warnings in the containers, e.g.\n${slow.slice(0, 3).join('\n')}\n`,
          );
        }
        compose('down', '-v', '--timeout', '5');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    compose('down', '-v', '--timeout', '5');
    throw err;
  }
}

function procSample(pid: number): { cpuSeconds: number; rssBytes: number } {
  const ticks = cpuTicks(`/proc/${pid}/stat`);
  if (ticks === undefined) throw new Error(`process ${pid} is gone`);
  return { cpuSeconds: (ticks * TICK_MS) / 1000, rssBytes: rssBytes(pid) || 0 };
}

/** Waits (up to 60 s) until every node's mempool is empty, so one phase's backlog does not skew the next. */
async function drained(net: Network): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const sizes = await Promise.all(
      net.rpcUrls.map(async (url) => {
        try {
          const body = (await (await request(`${url}/num_unconfirmed_txs`)).body.json()) as {
            result?: { n_txs?: string };
          };
          return Number(body.result?.n_txs ?? NaN);
        } catch {
          return NaN;
        }
      }),
    );
    if (sizes.every((n) => n === 0)) return;
    await sleep(500);
  }
  process.stderr.write(
    'bench-refnode: mempools did not drain within 60 s; the next phase starts with a backlog\n',
  );
}

async function viewChanges(net: Network): Promise<number[]> {
  return Promise.all(
    net.rpcUrls.map(async (url) => {
      try {
        const text = await (await request(`${url}/metrics`)).body.text();
        const m = /^refnode_view_changes_total\{[^}]*\} (\d+)/m.exec(text);
        return Number(m?.[1] ?? NaN);
      } catch {
        return NaN;
      }
    }),
  );
}

/** Open-loop run at `rate` for `seconds`, round-robin over nodes; commits seen on node0's websocket. */
async function runPhase(
  net: Network,
  rate: number,
  seconds: number,
  batch: number,
  txBytes: number,
): Promise<PhaseResult> {
  const runTag = randomBytes(4).readUInt32BE(0);
  const total = Math.floor(rate * (seconds + WARMUP_S));
  const intended = new Float64Array(total);
  const committedAt = new Float64Array(total);
  const payloadTemplate = randomBytes(txBytes);
  const t0 = performance.now() + 100;
  let blocks = 0;

  const ws = new WebSocket(`${net.rpcUrls[0]!.replace('http', 'ws')}/websocket`);
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  ws.send(
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { query: "tm.event='NewBlock'" } }),
  );
  let wsClosed: string | undefined;
  ws.on('close', (code: number, reason: Buffer) => {
    wsClosed = `${code} ${reason.toString()}`;
    process.stderr.write(
      `bench-refnode: the NewBlock subscription closed (${wsClosed}); commits after this are not seen\n`,
    );
  });
  ws.on('message', (data: Buffer) => {
    const now = performance.now();
    const text = data.toString();
    const start = text.indexOf('"txs":[');
    if (start < 0) return;
    blocks++;
    const end = text.indexOf(']', start);
    const list = text.slice(start + 7, end);
    if (list.length === 0) return;
    for (const item of list.split(',')) {
      const head = Buffer.from(item.slice(1, 13), 'base64'); // first 9 bytes
      if (head.length < 8 || head.readUInt32BE(0) !== runTag) continue;
      const seq = head.readUInt32BE(4);
      if (seq < total && committedAt[seq] === 0) committedAt[seq] = now;
    }
  });

  // How late the sender itself was (actual send - intended send): a starved client shows here.
  const sendLag = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 2,
  });
  const agent = new Agent({ connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
  let sent = 0;
  let accepted = 0;
  let rejected = 0;
  let errors = 0;
  let inflight = 0;
  const before = await net.sample();
  const viewChangesBefore = await viewChanges(net);
  const measureStart = t0 + WARMUP_S * 1000;
  let beforeMeasure = before;
  let sampled = false;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      if (!sampled && now >= measureStart) {
        sampled = true;
        void net.sample().then((s) => (beforeMeasure = s));
      }
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * rate));
      while (sent < due) {
        const n = Math.min(due - sent, batch);
        const seqs: number[] = [];
        for (let k = 0; k < n; k++) {
          const seq = sent++;
          intended[seq] = t0 + (seq / rate) * 1000;
          if (seq >= Math.ceil(WARMUP_S * rate))
            sendLag.recordValue(Math.max(1, Math.round((now - intended[seq]!) * 1000)));
          seqs.push(seq);
        }
        if (inflight > 20_000) {
          errors += n;
          continue;
        }
        const txs = seqs.map((seq) => {
          const tx = Buffer.from(payloadTemplate);
          tx.writeUInt32BE(runTag, 0);
          tx.writeUInt32BE(seq, 4);
          return tx;
        });
        const url = net.rpcUrls[((seqs[0]! / batch) % net.rpcUrls.length) | 0]!;
        inflight += n;
        const req =
          batch === 1
            ? request(`${url}/broadcast_tx_async?tx=0x${txs[0]!.toString('hex')}`, { dispatcher: agent })
            : request(url, {
                dispatcher: agent,
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(
                  txs.map((tx, k) => ({
                    jsonrpc: '2.0',
                    id: seqs[k],
                    method: 'broadcast_tx_async',
                    params: { tx: tx.toString('base64') },
                  })),
                ),
              });
        req
          .then(async (r) => {
            const body = await r.body.text();
            const bad = body.split('"error"').length - 1;
            if (r.statusCode !== 200) rejected += n;
            else {
              rejected += bad;
              accepted += n - bad;
            }
          })
          .catch(() => (errors += n))
          .finally(() => (inflight -= n));
      }
      if (sent >= total) done();
      else setTimeout(tick, 1);
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  const sendEnd = performance.now();
  while (inflight > 0 && performance.now() - sendEnd < 10_000) await sleep(20);
  await sleep(1500); // let the last blocks commit
  const after = await net.sample();
  const measureEnd = sendEnd;
  const subscriptionLost = wsClosed;
  const viewChangesAfter = await viewChanges(net);
  ws.removeAllListeners('close');
  ws.close();
  await agent.close();

  const hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let committedInWindow = 0;
  let committedOfScheduled = 0;
  let committedSinceMeasureStart = 0;
  const firstMeasured = Math.ceil(WARMUP_S * rate);
  for (let i = 0; i < total; i++) {
    const c = committedAt[i]!;
    if (c === 0) continue;
    if (c >= measureStart && c <= measureEnd) committedInWindow++;
    if (c >= measureStart) committedSinceMeasureStart++;
    if (i >= firstMeasured) committedOfScheduled++;
    if (i >= firstMeasured) hist.recordValue(Math.max(1, Math.round((c - intended[i]!) * 1000))); // µs
  }
  const windowS = (measureEnd - measureStart) / 1000;
  const elapsedS = (performance.now() - measureStart) / 1000;
  const perNode = after.map((a, i) => ({
    cpuPercentOfOneCore: Math.round(((a.cpuSeconds - beforeMeasure[i]!.cpuSeconds) / elapsedS) * 1000) / 10,
    rssMiB: Math.round((a.rssBytes / 1024 / 1024) * 10) / 10,
  }));
  const ms = (us: number): number => Math.round(us / 100) / 10;
  const cpuSecondsSinceMeasureStart = after.reduce(
    (sum, a, i) => sum + a.cpuSeconds - beforeMeasure[i]!.cpuSeconds,
    0,
  );
  return {
    offeredRate: rate,
    seconds,
    sent,
    accepted,
    rejected,
    errors,
    committedInWindow,
    committedTxPerSec: Math.round(committedInWindow / windowS),
    committedShareOfScheduled:
      Math.round((committedOfScheduled / Math.max(1, total - firstMeasured)) * 1000) / 1000,
    latencyMs: {
      p50: ms(hist.getValueAtPercentile(50)),
      p90: ms(hist.getValueAtPercentile(90)),
      p99: ms(hist.getValueAtPercentile(99)),
      max: ms(hist.maxValue),
      mean: ms(hist.mean),
      count: hist.totalCount,
    },
    perNode,
    cpuMsPerCommittedTx:
      Math.round((cpuSecondsSinceMeasureStart / Math.max(1, committedSinceMeasureStart)) * 1e6) / 1e3,
    blocks,
    senderLagMs: {
      p50: ms(sendLag.getValueAtPercentile(50)),
      p99: ms(sendLag.getValueAtPercentile(99)),
      max: ms(sendLag.maxValue),
    },
    viewChanges: viewChangesAfter.map((v, i) => v - viewChangesBefore[i]!),
    subscriptionLost,
  };
}

function phaseLine(r: PhaseResult): string {
  return `committed ${r.committedTxPerSec} tx/s, ${(r.committedShareOfScheduled * 100).toFixed(1)}% of scheduled; p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms; ${r.blocks} blocks, view changes ${r.viewChanges.join('/')}; sender lag p99 ${r.senderLagMs.p99} ms; CPU per node ${r.perNode.map((n) => n.cpuPercentOfOneCore).join('/')} %, ${r.cpuMsPerCommittedTx} CPU ms per committed tx`;
}

/** Each figure of one phase across its rounds. */
function phaseSpread(rounds: readonly PhaseResult[]) {
  return {
    committedTxPerSec: spread(rounds.map((r) => r.committedTxPerSec)),
    committedShareOfScheduled: spread(rounds.map((r) => r.committedShareOfScheduled)),
    latencyP50Ms: spread(rounds.map((r) => r.latencyMs.p50)),
    latencyP99Ms: spread(rounds.map((r) => r.latencyMs.p99)),
    cpuMsPerCommittedTx: spread(rounds.map((r) => r.cpuMsPerCommittedTx)),
  };
}

/** One round of one side: its network started, the latency phase (not with --compare), every peak rate, stopped. */
interface Round {
  readonly network: Network['kind'];
  readonly latency?: PhaseResult;
  /** In --peak-rates order. */
  readonly peak: readonly PhaseResult[];
}

/** The network of the round in progress: the teardown stops it after an error or a second Ctrl-C. */
let running: Network | undefined;

async function oneRound(side: string, args: Args, log: (line: string) => void): Promise<Round> {
  const bundle = args.compare?.find((s) => s.name === side);
  const net = await (side === 'docker-compose' ? startCompose(args.fsync) : startLocal(args.fsync, bundle));
  running = net;
  try {
    let latency: PhaseResult | undefined;
    if (!args.compare) {
      await drained(net);
      latency = await runPhase(net, args.latencyRate, args.seconds, 1, args.txBytes);
      log(
        `  ${side}: latency phase at ${args.latencyRate} tx/s for ${args.seconds} s: ${phaseLine(latency)}`,
      );
    }
    const peak: PhaseResult[] = [];
    for (const rate of args.peakRates) {
      await drained(net);
      const r = await runPhase(net, rate, args.seconds, args.batch, args.txBytes);
      log(`  ${side}: ${rate} tx/s for ${args.seconds} s (batches of ${args.batch}): ${phaseLine(r)}`);
      peak.push(r);
    }
    return { network: net.kind, ...(latency ? { latency } : {}), peak };
  } finally {
    running = undefined;
    await net.stop();
  }
}

/**
 * A network's sweep: a rate is sustained when it is fully committed (>= 99 % of scheduled) with
 * p50 under 1 s, in every round, on a quiet machine. Findings of the sweep, not claims.
 */
function sweep(rounds: readonly Round[], args: Args, load: LoadRecord, log: (line: string) => void) {
  const network = rounds[0]?.network;
  const peak = args.peakRates.map((rate, i) => {
    const phases = rounds.map((r) => r.peak[i]!);
    const committed = judgeThreshold({
      claim: `${network}: ${rate} tx/s: committed share >= 0.99`,
      values: phases.map((r) => r.committedShareOfScheduled),
      target: 0.99,
      direction: 'at-least',
      load,
    });
    const latency = judgeThreshold({
      claim: `${network}: ${rate} tx/s: p50 <= 1000 ms`,
      values: phases.map((r) => r.latencyMs.p50),
      target: 1000,
      load,
    });
    const verdicts = [committed.verdict, latency.verdict];
    const sustained = verdicts.includes('inconclusive')
      ? 'inconclusive'
      : verdicts.every((v) => v === 'pass')
        ? 'pass'
        : 'fail';
    for (const judgement of [committed, latency]) log(`  ${verdictLine(judgement)}`);
    return { offeredRate: rate, sustained, verdicts: { committed, latency }, ...phaseSpread(phases) };
  });
  const passed = peak.filter((p) => p.sustained === 'pass');
  const highest = passed.length === 0 ? 0 : Math.max(...passed.map((p) => p.committedTxPerSec.median));
  // A higher rate that might have been sustained leaves the figure open.
  const open = peak.some((p) => p.sustained === 'inconclusive');
  log(`${network}: sustained ${open ? `INCONCLUSIVE (at least ${highest} tx/s)` : `${highest} tx/s`}`);
  return {
    network,
    /** Median committed tx/s of the highest rate sustained in every round; 'inconclusive' when a rate is. */
    sustainedTxPerSec: open ? 'inconclusive' : highest,
    sustainedAtLeastTxPerSec: highest,
    peak,
    latency: { offeredRate: args.latencyRate, ...phaseSpread(rounds.flatMap((r) => r.latency ?? [])) },
  };
}

await runBench({
  usage: USAGE,
  flags: FLAGS,
  // its flag before the harness: rounds of every phase (spread needs >= 2)
  pairsFlag: 'repeat',
  defaultPairs: 2,
  args: parseArgs,
  file: 'refnode',
  setup: async () => {
    execFileSync('node', [join(root, 'systems/refnode/bundle.mjs')], { stdio: 'inherit' });
  },
  teardown: async () => {
    await running?.stop();
  },
  sides: [],
  sidesFrom: (args) => {
    if (args.compare) return args.compare.map((side) => side.name);
    const sides: string[] = args.local ? ['local-processes'] : [];
    if (args.docker && dockerAvailable()) sides.push('docker-compose');
    else if (args.docker)
      process.stderr.write(
        'bench-refnode: skipping containers (no meshbench/refnode:latest image or compose file; run npm run build && npm run images)\n',
      );
    return sides;
  },
  round: (side, { args, log }) => oneRound(side, args, log),
  describe: (r) =>
    [
      ...(r.latency ? [`latency p50 ${r.latency.latencyMs.p50} ms`] : []),
      ...r.peak.map(
        (p) =>
          `${p.offeredRate} tx/s: ${p.committedTxPerSec} committed (${(p.committedShareOfScheduled * 100).toFixed(1)}%)`,
      ),
    ].join(', '),
  figures: {},
  figuresFrom: (args) =>
    Object.fromEntries([
      ...(args.compare
        ? []
        : [
            ['latencyP50Ms', (r: Round) => r.latency?.latencyMs.p50],
            ['latencyP99Ms', (r: Round) => r.latency?.latencyMs.p99],
          ]),
      ...args.peakRates.flatMap((rate, i) => [
        [`committedTxPerSec@${rate}`, (r: Round) => r.peak[i]?.committedTxPerSec],
        [`committedShare@${rate}`, (r: Round) => r.peak[i]?.committedShareOfScheduled],
        [`p50Ms@${rate}`, (r: Round) => r.peak[i]?.latencyMs.p50],
        [`cpuMsPerCommittedTx@${rate}`, (r: Round) => r.peak[i]?.cpuMsPerCommittedTx],
      ]),
    ]),
  // without --compare: each network's sweep, judged over the rounds' load (findings, not claims)
  after: async ({ args, bySide, load, log }) =>
    args.compare
      ? undefined
      : Object.values(bySide)
          .filter((rounds) => rounds.length > 0)
          .map((rounds) => sweep(rounds, args, load, log)),
  // with --compare: each later side's committed tx/s against the first side's, per rate
  claims: (bySide, args, load): Judgement[] => {
    const [base, ...others] = args.compare ?? [];
    if (!base) return [];
    const committed = (side: string, i: number) =>
      (bySide[side] ?? []).map((r) => r.peak[i]?.committedTxPerSec ?? NaN);
    return args.peakRates.flatMap((rate, i) =>
      others.map((side) =>
        judgeRatio({
          claim: `${rate} tx/s: committed ${side.name} / ${base.name} >= 0.9`,
          numerator: committed(side.name, i),
          denominator: committed(base.name, i),
          target: 0.9,
          direction: 'at-least',
          load,
        }),
      ),
    );
  },
  extra: (_bySide, args, after) => ({
    txBytes: args.txBytes,
    fsync: args.fsync,
    method: `open-loop broadcast_tx_async, round-robin over 4 nodes, 16 keep-alive connections; peak phase: JSON-RPC batch POSTs of ${args.batch} txs; latency phase: one URI GET per tx; commits from node0 NewBlock events; latency from the intended send time`,
    ...(args.compare
      ? { compare: { order: 'rounds alternate the side order (ABBA…)', sides: args.compare } }
      : { sweep: after ?? [] }),
  }),
});
