/**
 * `npm run bench:loadgen` — the load generator's own performance, side by side with
 * autocannon in the same run, against the same minimal JSON-RPC server running in a
 * separate process pinned to the other core (`taskset -c 1` when present):
 *
 *   1. generator CPU time per 1,000 tx at fixed 5,000 and 20,000 tx/s, ours (both
 *      transports: `raw` and `undici`) vs autocannon (with `overallRate`, same connections,
 *      same body size); each round runs `--repeat N` times (default 3, alternating order), medians
 *      reported; plus the floor of any evenly spread open-loop sender on Node (`bare`: a bare
 *      keep-alive net.Socket loop that only counts replies), for reference, and the same loop
 *      also sending between replies as the generator does (`bare-spread`): the generator's own
 *      work is what it costs above that one;
 *   2. achieved rate vs target at 100, 250, 1,000, 2,000 and 10,000 tx/s (±1%), with the schedule lag and the generator's CPU;
 *   3. schedule lag p99 at 10,000 tx/s (< 2 ms);
 *   4. RSS growth at 2,000 tx/s: `--long` is the 10-minute run (RSS at minute 1 vs end,
 *      within 50 MB); the default is a 90 s run (RSS at 15 s vs end).
 *
 * Each measurement runs in its own child process pinned to core 0, and CPU time is
 * taken with process.cpuUsage() around the run only (start-up excluded for every tool).
 * Before it, each tool makes `--warmups N` short runs (default 2) of the same load in
 * the same process: steady-state cost, JMH-style. One warm-up is not enough for our
 * generator: the first run's end generalises some field types, V8 drops the code that
 * depended on them, and the next run re-optimises it (about 0.2 s of compile thread in
 * a 10 s run at 5,000 tx/s). `--warmups 1` gives the single-warm-up figures.
 * Figures go to benchmarks/results/loadgen-<timestamp>.json.
 *
 * A declaration on the bench harness (lib/harness.ts): the CPU comparison's sides are the tools
 * (raw, autocannon, undici, bare), `--repeat N` rounds of each at both rates, the order turned
 * each round; the server is what the rounds share; the achieved-rate, lag and RSS parts run once
 * after the rounds (the harness's `after`), each in a load window of its own. The load average is
 * recorded before, during (every 5 s) and after; a ratio whose rounds straddle 1, whose sides'
 * ranges overlap, or that was measured on a busy machine is "inconclusive", as is a single run's
 * threshold on a busy machine (lib/verdict.ts). Exit code 1 when a claim fails.
 * `--child` (internal: the parent runs each measurement as this script's child) stays outside
 * the harness: it measures one run and prints it as a JSON line.
 *
 * Flags: `npm run bench:loadgen -- --help`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { choiceFlag, choiceListFlag, flagsOrExit, numberFlag } from './lib/flags.js';
import { makeRefWorktree, type RefWorktree } from './lib/ref-worktree.js';
import { startProfiler } from './lib/cpu-profile.js';
import { runBench } from './lib/harness.js';
import {
  judgeRatio,
  judgeThreshold,
  loadLine,
  spread,
  type Judgement,
  type LoadRecord,
} from './lib/verdict.js';

const USAGE = {
  name: 'bench:loadgen',
  summary:
    "The load generator's CPU per 1,000 tx next to autocannon and bare socket loops, achieved rate,\n" +
    'schedule lag and RSS growth, against a minimal JSON-RPC server on the other core.',
  notes: ['Writes benchmarks/results/loadgen-<timestamp>.json.'],
};
const FLAGS = {
  only: {
    type: 'string',
    valueName: 'cpu|rate|rss|pacing|pump',
    description:
      "run one part only (default: cpu, rate and rss; only when asked: pacing, the waker thread against timer ticks at 500 and 1,000 tx/s; pump, sends between replies against sends only at the loop's wakes at 5,000 and 20,000 tx/s)",
  },
  seconds: { type: 'string', valueName: 'N', default: '10', description: 'seconds of each measured CPU run' },
  warmups: {
    type: 'string',
    valueName: 'N',
    default: '2',
    description: 'warm-up runs (1 s each) before every measurement, for every tool',
  },
  transport: {
    type: 'string',
    valueName: 'raw|undici',
    description: "the generator's transport in the rate and rss parts (default: its default)",
  },
  long: { type: 'boolean', description: 'the 10-minute RSS run (default: 90 s)' },
  tools: {
    type: 'string',
    valueName: 'LIST',
    description:
      "the CPU part's sides, from raw, autocannon, undici, bare and bare-spread (default: all); a claim is judged when its sides ran",
  },
  ref: {
    type: 'string',
    valueName: 'REV',
    description:
      "a side 'ref' in the CPU part, right after raw: the raw generator of git revision REV (a temporary worktree), to measure a change to the generator against it",
  },
  profile: {
    type: 'string',
    valueName: 'DIR',
    description:
      "write a V8 CPU profile of each measured run of ours to DIR (ours-<transport>-<rate>-<round>.cpuprofile; open it in Chrome's DevTools)",
  },
} as const;
/** The parent → child protocol: one measurement, printed as JSON. */
const CHILD_FLAGS = {
  child: { type: 'boolean', hidden: true, description: 'run one measurement and print it as JSON' },
  tool: { type: 'string', hidden: true, description: 'ours | autocannon | bare | bare-spread' },
  url: { type: 'string', hidden: true, description: 'server URL' },
  rate: { type: 'string', hidden: true, description: 'tx/s' },
  seconds: { type: 'string', hidden: true, description: 'seconds of the measured run' },
  warmups: { type: 'string', hidden: true, description: 'warm-up runs' },
  transport: { type: 'string', hidden: true, description: 'raw | undici' },
  rss: { type: 'boolean', hidden: true, description: 'sample RSS' },
  'profile-file': { type: 'string', hidden: true, description: 'the measured run profiled into this file' },
  pacing: { type: 'string', hidden: true, description: 'auto | ticks | batched (LoadOptions.pacing)' },
} as const;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const TX_SIZE = 512;
const CONNECTIONS = 64;
/** Each warm-up run (for every tool) lasts this long. */
const WARMUP_SECONDS = 1;
/** autocannon ships no types; a variable specifier keeps tsc from looking for them. */
const AUTOCANNON: string = 'autocannon';

const SERVER_SOURCE = `
import { createServer } from 'node:http';
let received = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received++;
    const body = Buffer.concat(chunks).toString();
    const id = /"id":(\\d+)/.exec(body)?.[1] ?? '0';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"jsonrpc":"2.0","id":' + id + ',"result":{"code":0,"data":"","log":"","codespace":"","hash":"00"}}');
  });
});
server.keepAliveTimeout = 120000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('message', (m) => { if (m === 'count') process.send({ received }); });
`;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const TASKSET = hasTaskset();

function pinned(core: number, args: string[]): [string, string[]] {
  return TASKSET ? ['taskset', ['-c', String(core), ...args]] : [args[0] as string, args.slice(1)];
}

interface ServerHandle {
  url: string;
  received(): Promise<number>;
  stop(): void;
}

async function startServer(): Promise<ServerHandle> {
  const [cmd, args] = pinned(1, [process.execPath, '--input-type=module', '-e', SERVER_SOURCE]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    received: () =>
      new Promise((resolve) => {
        child.once('message', (m: { received: number }) => resolve(m.received));
        child.send('count');
      }),
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * Runs this script as a child in `--child` mode, pinned to core 0; returns its JSON line. `tree`:
 * the checkout whose copy of this script runs (a reference revision's worktree; default this one).
 */
async function child(warmups: number, args: string[], tree = root): Promise<Record<string, number>> {
  const [cmd, argv] = pinned(0, [
    process.execPath,
    '--import',
    'tsx',
    join(tree, 'benchmarks', 'scripts', 'bench-loadgen.ts'),
    '--child',
    '--warmups',
    String(warmups),
    ...args,
  ]);
  const proc = spawn(cmd, argv, { cwd: tree, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number>((resolve) => proc.once('exit', (c) => resolve(c ?? 1)));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`child ${args.join(' ')} failed (${code}): ${out}`);
  return JSON.parse(line) as Record<string, number>;
}

/** One measurement of the generator (ours) in the child: `rate` tx/s for `seconds`, with `extra` child flags. */
function measureOurs(
  warmups: number,
  url: string,
  rate: number,
  seconds: number,
  extra: readonly string[] = [],
): Promise<Record<string, number>> {
  return child(warmups, [
    '--tool',
    'ours',
    '--url',
    url,
    '--rate',
    String(rate),
    '--seconds',
    String(seconds),
    ...extra,
  ]);
}

/** The generator's CPU over a measurement, in percent of one core. */
function cpuPercentOf(figures: Record<string, number>, seconds: number): number {
  return (figures.cpuMs! / (seconds * 1000)) * 100;
}

// ---------------------------------------------------------------- child mode

async function childOurs(
  warmups: number,
  url: string,
  rate: number,
  seconds: number,
  sampleRss: boolean,
  transport: 'raw' | 'undici' | undefined,
  profileFile?: string,
  pacing?: 'auto' | 'ticks' | 'batched',
): Promise<void> {
  const { runLoad } = await import('../../src/load/index.js');
  const rss: { second: number; rssMb: number; heapMb: number; inFlight: number }[] = [];
  // Warm-up outside the measurement (both tools get one): loads lazily required
  // modules and lets the JIT settle.
  // The same load for the warm-up and the measured run; only the id and the length differ.
  const load = {
    endpoints: [{ nodeId: 'server', rpcUrl: url }],
    protocol: { kind: 'cometbft', broadcastMode: 'async' },
    shape: { kind: 'fixed', rate },
    transactionSizeBytes: TX_SIZE,
    confirm: 'none',
    connectionsPerEndpoint: CONNECTIONS,
    ...(transport ? { transport } : {}),
    ...(pacing ? { pacing } : {}),
  } as const;
  let warmupSent = 0;
  for (let i = 0; i < warmups; i++) {
    const warmup = await runLoad({
      ...load,
      runId: `bench-warmup-${rate}-${i}`,
      durationMs: WARMUP_SECONDS * 1000,
    });
    warmupSent += warmup.sent;
  }
  // a profile of this thread: where the generator runs
  const profiler = profileFile ? await startProfiler(200) : undefined;
  const cpuStart = process.cpuUsage();
  const result = await runLoad({
    ...load,
    runId: `bench-${rate}`,
    durationMs: seconds * 1000,
    ...(sampleRss
      ? {
          onProgress: (p) =>
            rss.push({
              second: Math.round(p.elapsedMs / 1000),
              rssMb: process.memoryUsage.rss() / 1e6,
              heapMb: process.memoryUsage().heapUsed / 1e6,
              inFlight: p.inFlight,
            }),
        }
      : {}),
  });
  const cpu = process.cpuUsage(cpuStart);
  if (profiler && profileFile) await profiler.stop(profileFile);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const out: Record<string, number> = {
    rate,
    seconds,
    warmups,
    warmupSent,
    sent: result.sent,
    ok: result.outcomes.ok,
    failed: result.sent - result.outcomes.ok + result.outcomes.dropped,
    cpuMs,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    cpuPer1000: cpuMs / (result.sent / 1000),
    achievedRate: result.achievedRate,
    lagP50Ms: result.scheduleLag.p50,
    lagP99Ms: result.scheduleLag.p99,
    lagMaxMs: result.scheduleLag.max,
    ackP50Ms: result.latency.ack.corrected.p50,
    ackP99Ms: result.latency.ack.corrected.p99,
  };
  if (sampleRss) {
    const at = (s: number) => rss.find((r) => r.second >= s)?.rssMb ?? Number.NaN;
    const early = seconds >= 600 ? 60 : 15;
    out.rssEarlyAtSecond = early;
    out.rssEarlyMb = at(early);
    out.rssEndMb = rss[rss.length - 1]?.rssMb ?? Number.NaN;
    out.rssGrowthMb = out.rssEndMb - out.rssEarlyMb;
    out.heapEarlyMb = rss.find((r) => r.second >= early)?.heapMb ?? Number.NaN;
    out.heapEndMb = rss[rss.length - 1]?.heapMb ?? Number.NaN;
    out.maxInFlight = Math.max(0, ...rss.map((r) => r.inFlight));
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * The floor for an open-loop sender on Node: a bare loop over keep-alive `net.Socket`s
 * (same connections and body) that sends what is due every 1 ms timer tick and only
 * counts replies (no tx building, parsing, classification or histograms). Not a tool,
 * a reference: what any generator spreading sends evenly pays in wakeups and syscalls.
 * With `spread` (the `bare-spread` side) each reply also sends what fell due since, as the
 * generator does by default: the same loop at the generator's pacing, so the generator's
 * own work is what it costs above this side.
 */
async function childBare(
  warmups: number,
  url: string,
  rate: number,
  seconds: number,
  spread = false,
): Promise<void> {
  const net = await import('node:net');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const { hostname, port } = new URL(url);
  const tx = Buffer.alloc(TX_SIZE, 0x78).toString('base64');
  const body = `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"${tx}"}}`;
  const request = `POST / HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const headEnd = Buffer.from('\r\n\r\n');
  const free: import('node:net').Socket[] = [];
  let replies = 0;
  // the run in progress: its start and what it has sent (sendDue is also called on each reply)
  let start = 0;
  let sent = 0;
  let running = false;
  const sendDue = () => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (sent < due) {
      const socket = free.pop();
      if (!socket) break;
      socket.write(request);
      sent++;
    }
  };
  const sockets = Array.from({ length: CONNECTIONS }, () => {
    const socket = net.connect(Number(port), hostname);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      // One small reply per request (the server answers each at once, no pipelining).
      if (chunk.indexOf(headEnd) >= 0) {
        replies++;
        free.push(socket);
        if (spread && running) sendDue();
      }
    });
    free.push(socket);
    return socket;
  });
  const run = async (ms: number) => {
    start = performance.now();
    sent = 0;
    running = true;
    while (performance.now() - start < ms) {
      sendDue();
      await sleep(1);
    }
    running = false;
    return sent;
  };
  for (let i = 0; i < warmups; i++) await run(WARMUP_SECONDS * 1000);
  const cpuStart = process.cpuUsage();
  const measured = await run(seconds * 1000);
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  for (const socket of sockets) socket.destroy();
  process.stdout.write(
    `${JSON.stringify({ rate, seconds, sent: measured, replies, cpuMs, userMs: cpu.user / 1000, systemMs: cpu.system / 1000, cpuPer1000: cpuMs / (measured / 1000), achievedRate: measured / seconds })}\n`,
  );
}

async function childAutocannon(warmups: number, url: string, rate: number, seconds: number): Promise<void> {
  const { default: autocannon } = (await import(AUTOCANNON)) as {
    default: (opts: Record<string, unknown>) => Promise<{
      requests: { total: number };
      errors: number;
      non2xx: number;
      latency: { p50: number; p99: number };
    }>;
  };
  const tx = Buffer.alloc(TX_SIZE, 0x78).toString('base64');
  const body = `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"${tx}"}}`;
  const common = {
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections: CONNECTIONS,
  };
  for (let i = 0; i < warmups; i++)
    await autocannon({ ...common, overallRate: rate, duration: WARMUP_SECONDS });
  const cpuStart = process.cpuUsage();
  const result = await autocannon({ ...common, overallRate: rate, duration: seconds });
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      rate,
      seconds,
      sent: result.requests.total,
      cpuMs,
      userMs: cpu.user / 1000,
      systemMs: cpu.system / 1000,
      cpuPer1000: cpuMs / (result.requests.total / 1000),
      achievedRate: result.requests.total / seconds,
      errors: result.errors,
      non2xx: result.non2xx,
      ackP50Ms: result.latency.p50,
      ackP99Ms: result.latency.p99,
    })}\n`,
  );
}

// ---------------------------------------------------------------- child mode's entry

async function childMain(): Promise<void> {
  const options = flagsOrExit(USAGE, CHILD_FLAGS, (values) => ({
    ...values,
    rate: numberFlag('rate', values.rate ?? '', { min: 1 }),
    seconds: numberFlag('seconds', values.seconds ?? '', { min: 1 }),
    warmups: numberFlag('warmups', values.warmups ?? '0', { integer: true, min: 0 }),
    transport: choiceFlag('transport', values.transport, ['raw', 'undici']),
    pacing: choiceFlag('pacing', values.pacing, ['auto', 'ticks', 'batched']),
  }));
  const { tool, url = '', rate, seconds, warmups } = options;
  if (tool === 'autocannon') await childAutocannon(warmups, url, rate, seconds);
  else if (tool === 'bare') await childBare(warmups, url, rate, seconds);
  else if (tool === 'bare-spread') await childBare(warmups, url, rate, seconds, true);
  else
    await childOurs(
      warmups,
      url,
      rate,
      seconds,
      options.rss === true,
      options.transport,
      options['profile-file'],
      options.pacing,
    );
}

// ---------------------------------------------------------------- parent mode

interface Args {
  readonly only: 'cpu' | 'rate' | 'rss' | 'pacing' | 'pump' | undefined;
  readonly seconds: number;
  readonly warmups: number;
  readonly transport: 'raw' | 'undici' | undefined;
  readonly long: boolean;
  readonly profile: string | undefined;
  readonly tools: readonly Tool[];
  readonly ref: string | undefined;
}

/** What the rounds share: the server, and the reference revision's worktree with --ref. */
interface Shared {
  readonly server: ServerHandle;
  readonly ref: RefWorktree | undefined;
}

const TOOLS = ['raw', 'autocannon', 'undici', 'bare', 'bare-spread'] as const;
type Tool = (typeof TOOLS)[number];
const CPU_RATES = [5000, 20000] as const;

/** One tool's CPU round: its measurement at each rate. */
interface Round {
  readonly tool: string;
  readonly loadAverage: number;
  readonly byRate: Readonly<Record<number, Record<string, number>>>;
}

/** The parts after the CPU rounds (achieved rate and lag, RSS): figures for the record, and claims. */
interface After {
  readonly figures: {
    achievedRate?: Record<string, number>[];
    scheduleLagAt10k?: { p99Ms: number | undefined };
    rateLoadAverage?: LoadRecord;
    rss?: Record<string, unknown>;
    pacing?: Record<string, unknown>;
    pump?: Record<string, unknown>;
  };
  readonly judgements: Judgement[];
}

/** What a part after the CPU rounds gets from the harness: a log line, and a load-average window. */
type PartContext = { log: (line: string) => void; window: () => { close(): LoadRecord } };

/** Our generator's sides: its transports, and the reference revision's (raw). */
const ours = (tool: string) => tool === 'raw' || tool === 'undici' || tool === 'ref';

async function cpuRound(tool: string, shared: Shared, args: Args, pair: number): Promise<Round> {
  const { server } = shared;
  const loadAverage = loadavg()[0] as number;
  const byRate: Record<number, Record<string, number>> = {};
  for (const rate of CPU_RATES) {
    const before = await server.received();
    const figures = await child(
      args.warmups,
      [
        '--tool',
        ours(tool) ? 'ours' : tool,
        ...(ours(tool) ? ['--transport', tool === 'ref' ? 'raw' : tool] : []),
        '--url',
        server.url,
        '--rate',
        String(rate),
        '--seconds',
        String(args.seconds),
        ...(ours(tool) && args.profile
          ? ['--profile-file', join(args.profile, `ours-${tool}-${rate}-${pair + 1}.cpuprofile`)]
          : []),
      ],
      tool === 'ref' ? shared.ref?.dir : undefined,
    );
    const received = (await server.received()) - before - (figures.warmupSent ?? 0);
    byRate[rate] = ours(tool) ? { ...figures, serverReceived: received } : figures;
  }
  return { tool, loadAverage, byRate };
}

/** One run's figure against a target: a pass or a fail only on a quiet machine. */
function once(claim: string, value: number, target: number, load: LoadRecord): Judgement {
  return judgeThreshold({ claim, values: [value], target, minRounds: 1, load });
}

async function rateAndRss(args: Args, server: ServerHandle, context: PartContext): Promise<After> {
  const { log } = context;
  const after: After = { figures: {}, judgements: [] };
  const transport = args.transport ? ['--transport', args.transport] : [];
  if (!args.only || args.only === 'rate') {
    const rates: Record<string, number>[] = [];
    const window = context.window();
    // 100 and 250: the sparse pacing (a precise wait before each send), 1,000 and 10,000: timer ticks
    for (const rate of [100, 250, 1000, 2000, 10000]) {
      const seconds = rate <= 250 ? 10 : 5;
      const figures = await measureOurs(args.warmups, server.url, rate, seconds, transport);
      const errorPct = ((figures.achievedRate! - rate) / rate) * 100;
      // what the pacing costs at this rate
      const cpuPercent = cpuPercentOf(figures, seconds);
      log(
        `rate ${rate} tx/s: achieved ${figures.achievedRate!.toFixed(2)} (${errorPct.toFixed(3)}%), lag p50 ${figures.lagP50Ms} ms p99 ${figures.lagP99Ms} ms max ${figures.lagMaxMs} ms, CPU ${cpuPercent.toFixed(1)} % of a core`,
      );
      rates.push({ ...figures, rate, errorPct, cpuPercent });
    }
    const load = window.close();
    log(`rate and lag: ${loadLine(load)}`);
    after.figures.achievedRate = rates;
    after.figures.rateLoadAverage = load;
    after.judgements.push(
      ...rates.map((r) => once(`achieved rate within 1% of ${r.rate} tx/s`, Math.abs(r.errorPct!), 1, load)),
    );
    const at10k = rates.find((r) => r.rate === 10000);
    after.figures.scheduleLagAt10k = { p99Ms: at10k?.lagP99Ms };
    after.judgements.push(
      once('schedule lag p99 at 10,000 tx/s <= 2 ms', at10k?.lagP99Ms ?? Infinity, 2, load),
    );
  }
  if (args.only === 'pacing') after.judgements.push(...(await pacingPart(args, server, context, after)));
  if (args.only === 'pump') await pumpPart(args, server, context, after);
  if (!args.only || args.only === 'rss') {
    const seconds = args.long ? 600 : 90;
    log(`rss: 2000 tx/s for ${seconds} s …`);
    const window = context.window();
    const rss = await measureOurs(args.warmups, server.url, 2000, seconds, ['--rss', ...transport]);
    const load = window.close();
    log(
      `rss: ${rss.rssEarlyMb!.toFixed(1)} MB at ${rss.rssEarlyAtSecond} s, ${rss.rssEndMb!.toFixed(1)} MB at the end (growth ${rss.rssGrowthMb!.toFixed(1)} MB); ${loadLine(load)}`,
    );
    // Memory is bounded by the in-flight cap; when the server falls behind, in-flight
    // (and with it RSS) grows up to that cap, which says nothing about leaks.
    const serverKeptUp = (rss.maxInFlight ?? Infinity) < 1000;
    const judgement = once(`RSS growth at 2,000 tx/s over ${seconds} s <= 50 MB`, rss.rssGrowthMb!, 50, load);
    const behind = `the server fell behind (peak in-flight ${rss.maxInFlight}); the growth figure is not a leak measure`;
    after.judgements.push(
      serverKeptUp
        ? judgement
        : { ...judgement, verdict: 'inconclusive', reasons: [...judgement.reasons, behind] },
    );
    after.figures.rss = { long: args.long, ...rss, serverKeptUp, loadAverage: load };
  }
  return after;
}

/**
 * PACING_ROUNDS rounds of our generator with each of `sides` (LoadOptions.pacing) at each rate,
 * the order turned each round: each measurement's figures with its CPU in percent of a core
 * (`cpuPercent`) and what the server got (`serverGot`), by rate and side; `log` gets each one
 * with a line naming it.
 */
async function pacingRounds(
  args: Args,
  server: ServerHandle,
  sides: readonly string[],
  rates: readonly number[],
  log: (figures: Record<string, number>, line: string) => void,
): Promise<Record<number, Record<string, Record<string, number>[]>>> {
  const byRate: Record<number, Record<string, Record<string, number>[]>> = {};
  for (let round = 0; round < PACING_ROUNDS; round++) {
    for (const rate of rates) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const pacing of order) {
        const before = await server.received();
        const measured = await measureOurs(args.warmups, server.url, rate, args.seconds, [
          '--pacing',
          pacing,
        ]);
        const figures = {
          ...measured,
          cpuPercent: cpuPercentOf(measured, args.seconds),
          serverGot: (await server.received()) - before - (measured.warmupSent ?? 0),
        };
        ((byRate[rate] ??= {})[pacing] ??= []).push(figures);
        log(figures, `${pacing} at ${rate} tx/s, round ${round + 1}`);
      }
    }
  }
  return byRate;
}

/** Rounds of the pacing part (each runs both sides at both rates, the order turned each round). */
const PACING_ROUNDS = 3;
const PACING_RATES = [500, 1000] as const;

/**
 * The waker thread (the default from 250 to 1,000 tx/s per thread) against 1 ms timer ticks
 * (`pacing: 'ticks'`, what the generator did before 2026-11-27), side by side in alternating
 * rounds: the generator's CPU, its schedule lag and the server's measured reply time.
 */
async function pacingPart(
  args: Args,
  server: ServerHandle,
  context: PartContext,
  after: After,
): Promise<Judgement[]> {
  const window = context.window();
  const byRate = await pacingRounds(args, server, ['auto', 'ticks'], PACING_RATES, (figures, line) =>
    context.log(
      `pacing ${line}: CPU ${figures.cpuPercent!.toFixed(1)} % of a core, lag p50 ${figures.lagP50Ms} ms p99 ${figures.lagP99Ms} ms, reply p50 ${figures.ackP50Ms} ms`,
    ),
  );
  const load = window.close();
  context.log(`pacing: ${loadLine(load)}`);
  after.figures.pacing = { rounds: PACING_ROUNDS, seconds: args.seconds, byRate, loadAverage: load };
  const of = (rate: number, pacing: string, key: string) =>
    (byRate[rate]?.[pacing] ?? []).map((figures) => figures[key] ?? Number.NaN);
  return PACING_RATES.flatMap((rate) => [
    judgeRatio({
      claim: `waker CPU <= 1.1x timer ticks at ${rate} tx/s`,
      numerator: of(rate, 'auto', 'cpuPercent'),
      denominator: of(rate, 'ticks', 'cpuPercent'),
      target: 1.1,
      load,
    }),
    judgeRatio({
      claim: `waker schedule lag p50 <= a fifth of timer ticks' at ${rate} tx/s`,
      numerator: of(rate, 'auto', 'lagP50Ms'),
      denominator: of(rate, 'ticks', 'lagP50Ms'),
      target: 0.2,
      load,
    }),
  ]);
}

const PUMP_RATES = [5000, 20000] as const;

/**
 * What sending between replies costs (the default: each send goes out as it falls due, between
 * the replies that wake the loop) against sending only the batch due at each wake of the loop
 * (`pacing: 'batched'`, as the bare loop of the CPU part does), side by side in alternating
 * rounds (3): the generator's CPU per 1,000 tx, its schedule lag, and the
 * server's reply time from the intended send (what a batch queued at the server shows up in).
 * Figures only, no claim: it says where the generator's CPU above the bare loop goes.
 */
async function pumpPart(args: Args, server: ServerHandle, context: PartContext, after: After): Promise<void> {
  const sides = ['auto', 'batched'] as const;
  const rounds = PACING_ROUNDS;
  const window = context.window();
  const byRate = await pacingRounds(args, server, sides, PUMP_RATES, (figures, line) =>
    context.log(
      `pump: ${line}: ${figures.cpuPer1000!.toFixed(1)} ms/1000 tx, lag p50 ${figures.lagP50Ms} ms p99 ${figures.lagP99Ms} ms, reply p50 ${figures.ackP50Ms} ms p99 ${figures.ackP99Ms} ms (sent ${figures.sent}, server got ${figures.serverGot})`,
    ),
  );
  const load = window.close();
  context.log(`pump: ${loadLine(load)}`);
  const summary: Record<string, unknown> = {};
  for (const rate of PUMP_RATES) {
    for (const pacing of sides) {
      const runs = byRate[rate]?.[pacing] ?? [];
      const of = (key: string) => spread(runs.map((figures) => figures[key] ?? Number.NaN));
      const cpu = of('cpuPer1000');
      const lag = of('lagP50Ms');
      const reply = of('ackP50Ms');
      summary[`${pacing}@${rate}`] = { cpuPer1000: cpu, lagP50Ms: lag, replyP50Ms: reply };
      context.log(
        `pump: ${pacing} at ${rate} tx/s: ${cpu.median.toFixed(1)} (${cpu.min.toFixed(1)}-${cpu.max.toFixed(1)}) ms/1000 tx, lag p50 ${lag.median} ms, reply p50 ${reply.median} (${reply.min}-${reply.max}) ms`,
      );
    }
  }
  after.figures.pump = { rounds, seconds: args.seconds, byRate, summary, loadAverage: load };
}

if (process.argv.slice(2).includes('--child')) await childMain();
else
  await runBench({
    usage: USAGE,
    flags: FLAGS,
    // its flag before the harness: rounds of the CPU comparison (each runs every tool at both rates)
    pairsFlag: 'repeat',
    defaultPairs: 3,
    args: (values): Args => ({
      only: choiceFlag('only', values.only, ['cpu', 'rate', 'rss', 'pacing', 'pump']),
      seconds: numberFlag('seconds', values.seconds, { min: 1 }),
      warmups: numberFlag('warmups', values.warmups, { integer: true, min: 0 }),
      transport: choiceFlag('transport', values.transport, ['raw', 'undici']),
      long: values.long === true,
      profile: values.profile,
      tools: toolsFlag(values.tools),
      ref: values.ref,
    }),
    file: 'loadgen',
    setup: async (args, { log }): Promise<Shared> => {
      const ref =
        args.ref === undefined
          ? undefined
          : makeRefWorktree(args.ref, { prefix: 'loadgen', build: false, log });
      try {
        return { server: await startServer(), ref };
      } catch (error) {
        ref?.remove();
        throw error;
      }
    },
    teardown: async ({ server, ref }) => {
      server.stop();
      ref?.remove();
    },
    sides: [],
    // with --ref, the reference right after raw: the harness compares the first two sides figure by figure
    sidesFrom: (args) =>
      !args.only || args.only === 'cpu'
        ? args.ref === undefined
          ? args.tools
          : ['raw', 'ref', ...args.tools.filter((tool) => tool !== 'raw')]
        : [],
    round: (tool, { shared, args, pair }) => cpuRound(tool, shared, args, pair),
    describe: (r) =>
      CPU_RATES.map((rate) => {
        const m = r.byRate[rate]!;
        return `${rate} tx/s ${m.cpuPer1000!.toFixed(1)} ms/1000 tx (sent ${m.sent}${m.serverReceived !== undefined ? `, server got ${m.serverReceived}` : ''})`;
      }).join('; ') + ` (load average ${r.loadAverage.toFixed(2)})`,
    figures: Object.fromEntries(
      CPU_RATES.map((rate) => [`cpuPer1000Ms@${rate}`, (r: Round) => r.byRate[rate]?.cpuPer1000]),
    ),
    after: ({ args, shared, log, window }) => rateAndRss(args, shared.server, { log, window }),
    claims: (bySide, args, load, after) => {
      // the CPU comparison's claims only where it ran (not with --only rate or rss), each when both its sides did
      const measured = (side: string) => (bySide[side]?.length ?? 0) > 0;
      const ratio = (tool: string, to: string, rate: number, target: number, claim: string) =>
        measured(tool) && measured(to)
          ? [
              judgeRatio({
                claim,
                numerator: cpuPer1000(bySide[tool], rate),
                denominator: cpuPer1000(bySide[to], rate),
                target,
                load,
              }),
            ]
          : [];
      return [
        ...CPU_RATES.flatMap((rate) =>
          (['raw', 'undici'] as const).flatMap((tool) =>
            ratio(tool, 'autocannon', rate, 1, `${tool} <= autocannon in CPU per 1,000 tx at ${rate} tx/s`),
          ),
        ),
        // issue 31's floor: the default transport within 1.1 times the bare 1 ms loop at 20,000 tx/s
        ...ratio('raw', 'bare', 20000, 1.1, 'raw <= 1.1 x the bare loop in CPU per 1,000 tx at 20000 tx/s'),
        ...(after?.judgements ?? []),
      ];
    },
    extra: (bySide, args, after, shared) => ({
      settings: {
        taskset: TASKSET,
        transactionSizeBytes: TX_SIZE,
        connections: CONNECTIONS,
        warmupRunsPerMeasurement: args.warmups,
        warmupRunSeconds: WARMUP_SECONDS,
        ...(shared.ref
          ? {
              ref: {
                rev: shared.ref.rev,
                commit: shared.ref.commit,
                thisCommit: shared.ref.thisCommit,
                note: 'raw is the working tree, uncommitted changes included',
              },
            }
          : {}),
      },
      ...((bySide.raw?.length ?? 0) > 0
        ? {
            cpuPer1000Tx: CPU_RATES.map((rate) => {
              /** Per-round ratios, paired by round; absent when a side did not run. */
              const ratio = (tool: string, to: string) => {
                const of = cpuPer1000(bySide[to], rate);
                const values = cpuPer1000(bySide[tool], rate);
                return values.length > 0 && of.length === values.length
                  ? spread(values.map((v, i) => v / of[i]!))
                  : undefined;
              };
              return {
                rate,
                ratioToAutocannon: { raw: ratio('raw', 'autocannon'), undici: ratio('undici', 'autocannon') },
                ratioToBareFloor: { raw: ratio('raw', 'bare'), undici: ratio('undici', 'bare') },
                /** Against the bare loop at the generator's own pacing: the generator's own work. */
                ratioToSpreadBare: {
                  raw: ratio('raw', 'bare-spread'),
                  undici: ratio('undici', 'bare-spread'),
                },
                /** With --ref: this tree's raw generator against the reference revision's. */
                ...(shared.ref ? { ratioToRef: { raw: ratio('raw', 'ref') } } : {}),
              };
            }),
          }
        : {}),
      ...after?.figures,
    }),
  });

/** --tools: a comma-separated list of CPU sides (default every one). */
function toolsFlag(value: string | undefined): readonly Tool[] {
  if (value === undefined) return TOOLS;
  return [...new Set(choiceListFlag('tools', value, TOOLS))];
}

function cpuPer1000(rounds: readonly Round[] | undefined, rate: number): number[] {
  return (rounds ?? []).map((r) => r.byRate[rate]?.cpuPer1000 ?? NaN);
}
