/**
 * The UDP probe of bench:delay-helper, one process per network namespace (started as
 * `nsenter -t PID -n node --import tsx udp-probe.ts`). It reads one JSON command a line on
 * stdin and answers each with one JSON line on stdout:
 *
 *   {"op":"listen","port":P}                         receive on P   -> {"ok":true}
 *   {"op":"collect","round":N,"earlyBelowUs":U}       start round N  -> {"ok":true}
 *   {"op":"report"}                                   round N so far -> ProbeReport
 *   {"op":"send","host":H,"port":P,"rate":R,"seconds":S,"round":N,"sockets":K}   -> SendReport
 *
 * Each probe carries its send time (process.hrtime: CLOCK_MONOTONIC, one clock for every
 * process on the machine, whatever their network namespace), so the receiver's arrival time
 * minus it is the one-way delay. The sender paces by the clock: every tick (about 1 ms) it
 * sends what the rate owes by then, so probes leave in bursts of rate/1,000.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { build } from 'hdr-histogram-js';

export interface ProbeReport {
  readonly round: number;
  readonly count: number;
  /** Probes of other rounds that arrived meanwhile (stragglers); not in the figures. */
  readonly otherRounds: number;
  /** Probes faster than earlyBelowUs (e.g. let through undelayed by a full queue). */
  readonly early: number;
  readonly minUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

export interface SendReport {
  readonly sent: number;
  readonly seconds: number;
  readonly sendErrors: number;
  readonly sockets: number;
  /** The most sends waiting in this process (a full socket send buffer); their timestamps are early. */
  readonly queuedMax: number;
}

type Command =
  | { op: 'listen'; port: number }
  | { op: 'collect'; round: number; earlyBelowUs: number }
  | { op: 'report' }
  | { op: 'send'; host: string; port: number; rate: number; seconds: number; round: number; sockets: number };

const PROBE_BYTES = 64;
const newHistogram = () =>
  build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 4 });

let histogram = newHistogram();
let round = -1;
let earlyBelowUs = 0;
let early = 0;
let otherRounds = 0;
let receiver: Socket | undefined;

function onProbe(message: Buffer): void {
  const arrived = process.hrtime.bigint();
  if (message.length < 16) return;
  if (message.readUInt32LE(8) !== round) {
    otherRounds++;
    return;
  }
  const delayUs = Number(arrived - message.readBigInt64LE(0)) / 1000;
  histogram.recordValue(Math.max(1, Math.round(delayUs)));
  if (delayUs < earlyBelowUs) early++;
}

function report(): ProbeReport {
  const count = histogram.totalCount;
  const at = (q: number) => (count > 0 ? histogram.getValueAtPercentile(q) : NaN);
  return {
    round,
    count,
    otherRounds,
    early,
    minUs: count > 0 ? histogram.minNonZeroValue : NaN,
    p50Us: at(50),
    p90Us: at(90),
    p99Us: at(99),
    maxUs: count > 0 ? histogram.maxValue : NaN,
    meanUs: count > 0 ? histogram.mean : NaN,
  };
}

async function send(command: Extract<Command, { op: 'send' }>): Promise<SendReport> {
  // Packets held on their way out still count against their socket's send buffer (about 270
  // small ones in the default 208 KiB): spread them over enough sockets that none fills up,
  // or sends would queue in this process after their timestamps were taken.
  const sockets = await Promise.all(
    Array.from({ length: Math.max(1, command.sockets) }, async () => {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(command.port, command.host, () => resolve());
      });
      return socket;
    }),
  );
  let sendErrors = 0;
  for (const socket of sockets) socket.on('error', () => sendErrors++);
  const total = Math.round(command.rate * command.seconds);
  const start = process.hrtime.bigint();
  let sent = 0;
  let queuedMax = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
      const owed = Math.min(total, Math.floor(elapsedS * command.rate) + 1);
      while (sent < owed) {
        const probe = Buffer.alloc(PROBE_BYTES);
        probe.writeBigInt64LE(process.hrtime.bigint(), 0);
        probe.writeUInt32LE(command.round, 8);
        probe.writeUInt32LE(sent, 12);
        (sockets[sent % sockets.length] as Socket).send(probe, (error) => {
          if (error) sendErrors++;
        });
        sent++;
      }
      queuedMax = Math.max(queuedMax, ...sockets.map((socket) => socket.getSendQueueCount()));
      // Past the window (a sender that cannot keep up): stop at the deadline, not at the count.
      if (sent >= total || elapsedS >= command.seconds + 1) resolve();
      else setTimeout(tick, 0);
    };
    tick();
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // Let queued sends (if any) go before closing, within 2 s.
  const deadline = Date.now() + 2000;
  while (sockets.some((socket) => socket.getSendQueueCount() > 0) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return { sent, seconds, sendErrors, sockets: sockets.length, queuedMax };
}

async function handle(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'listen': {
      const socket = createSocket({ type: 'udp4', recvBufferSize: 16 << 20 });
      socket.on('message', onProbe);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(command.port, '0.0.0.0', () => resolve());
      });
      receiver = socket;
      return { ok: true, recvBufferBytes: receiver.getRecvBufferSize() };
    }
    case 'collect':
      histogram = newHistogram();
      round = command.round;
      earlyBelowUs = command.earlyBelowUs;
      early = 0;
      otherRounds = 0;
      return { ok: true };
    case 'report':
      return report();
    case 'send':
      return send(command);
  }
}

// Commands run one at a time, in order; stdin's end ends the process.
const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    try {
      process.stdout.write(`${JSON.stringify(await handle(JSON.parse(line) as Command))}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
    }
  });
});
lines.on('close', () => {
  void queue.then(() => {
    receiver?.close();
    process.exit(0);
  });
});
