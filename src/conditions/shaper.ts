/**
 * The commands that make one network namespace's links what the model asks, run in the
 * nethelper sidecar that shares it (shell, tc, iptables, nfq-delay). Pure: it turns
 * facts about the namespace and the wanted link qualities into one shell script per
 * change, and keeps what it created so the next script changes only that.
 *
 * Per namespace meshbench owns:
 *   - one tc tree per device that reaches a shaped peer: root `htb` with handle 4d42:
 *     ("MB"), a class 4d42:<k> per peer with its rate (10gbit: unlimited), u32 filters on the
 *     peer's addresses, and under the class a netem leaf (where the kernel has netem) for
 *     delay, jitter and loss; unclassified traffic (the orchestrator's RPC, metrics) goes
 *     straight through (htb default 0);
 *   - a chain named after the run, MB-<run>, in the filter table, jumped to from INPUT:
 *     what comes in from a peer is dropped there (partitions: DROP; loss without netem:
 *     statistic DROP), as a lossy or cut network would;
 *   - MB-<run>-i in the mangle table, jumped to from PREROUTING: delay without netem, NFQUEUE
 *     to nfq-delay (keyed by the source) with --queue-bypass.
 * With --shape-orchestrator, the orchestrator (`client`, reached through the namespace's
 * gateway) is one more peer, but one whose receiving side is not ours:
 *   - towards it, what the receiver would do is done on the way out: MB-<run>-o, in the filter
 *     and mangle tables, jumped to from OUTPUT (drops, statistic loss, NFQUEUE keyed by this
 *     namespace's own address), or the netem leaf of its class;
 *   - from it, drops, statistic loss and nfq-delay act on the way in as for any peer; a rate,
 *     or netem's delay and loss, go through an IFB (mb-ifb): the device's ingress qdisc
 *     redirects the gateway's packets to it, and it has its own 4d42: tree.
 * It never touches a root qdisc or chain it did not create.
 */
import { ifbSweep, IFB_DEVICE, sweepScript, TC_HANDLE } from '../common/net-shaping.js';
import { isClear, type LinkQuality } from './model.js';
import type { Sidecar } from '../testbed/testbed.js';

export { TC_HANDLE };
export const NFQUEUE_NUM = 4242;
/** Above the kernel's 1,024: 50 ms at 20,000 packets/s holds 1,000, and bursts more. */
export const NFQUEUE_MAXLEN = 65_536;
const UNLIMITED = '10gbit';
const STATE_DIR = '/tmp/meshbench';
/** The namespace's network devices as sysfs lists them. */
const NET_DEVICES = '/sys/class/net';

export type Mechanism = 'netem' | 'nfqueue' | 'iptables-statistic' | 'htb' | 'iptables-drop';

/** What one namespace's kernel and tools can do. */
export interface Capabilities {
  readonly netem: boolean;
  readonly htb: boolean;
  /** An IFB device can be made (ingress shaping of the orchestrator's traffic). */
  readonly ifb?: boolean;
  readonly nfqueue: boolean;
  readonly statistic: boolean;
  readonly drop: boolean;
  /** Why a probe failed, by capability: the tool's own words. */
  readonly reasons: Readonly<Record<string, string>>;
}

/** Which mechanism applies each kind of condition on a namespace (null: none can). */
export interface MechanismChoice {
  readonly delay: 'netem' | 'nfqueue' | null;
  readonly loss: 'netem' | 'iptables-statistic' | null;
  readonly rate: 'htb' | null;
  readonly partition: 'iptables-drop' | null;
}

export type DelayPreference = 'auto' | 'netem' | 'nfqueue';

export function chooseMechanisms(caps: Capabilities, prefer: DelayPreference = 'auto'): MechanismChoice {
  const netem = caps.netem && caps.htb && prefer !== 'nfqueue';
  const delay = netem ? 'netem' : caps.nfqueue && prefer !== 'netem' ? 'nfqueue' : null;
  return {
    delay,
    loss: netem ? 'netem' : caps.statistic ? 'iptables-statistic' : null,
    rate: caps.htb ? 'htb' : null,
    partition: caps.drop ? 'iptables-drop' : null,
  };
}

/** The iptables chain of a run: `MB-` and the run id's last 22 characters (iptables allows 28). */
export function chainOf(runId: string): string {
  return `MB-${runId.replace(/[^A-Za-z0-9_-]/g, '').slice(-22)}`;
}

/** The run's ingress chain (mangle PREROUTING): delay through nfq-delay, keyed by the source. */
export function ingressChainOf(runId: string): string {
  return `${chainOf(runId)}-i`;
}

/** The run's egress chain towards the orchestrator (filter and mangle OUTPUT). */
export function outputChainOf(runId: string): string {
  return `${chainOf(runId)}-o`;
}

/** Root qdiscs a device has until someone sets one: shaping there replaces nothing of anyone's. */
const DEFAULT_ROOTS = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'mq', 'fq', 'pfifo', 'cake']);

/**
 * Probes, in the namespace, what each mechanism needs: a netem, htb qdisc on a dummy
 * device (removed again), and iptables rules with the statistic match and the NFQUEUE
 * target in a scratch chain (removed again). Prints `name=yes` or `name=no <why>`.
 */
export function probeScript(): string {
  return `set +e
dev=mbprobe$$
try() { name=$1; shift; out=$("$@" 2>&1); if [ $? -eq 0 ]; then echo "$name=yes"; else echo "$name=no $(echo "$out" | head -1)"; fi; }
if ip link add "$dev" type veth peer name "$dev"p 2>/dev/null; then
  try netem tc qdisc add dev "$dev" root handle 1: netem delay 1ms
  tc qdisc del dev "$dev" root 2>/dev/null
  try htb tc qdisc add dev "$dev" root handle 1: htb default 0
  ip link del "$dev" 2>/dev/null
  try ifb ip link add mbpi$$ type ifb
  ip link del mbpi$$ 2>/dev/null
else
  why=$(ip link add "$dev" type veth peer name "$dev"p 2>&1 | head -1)
  echo "netem=no cannot create a veth pair to probe with: $why"
  echo "htb=no cannot create a veth pair to probe with: $why"
fi
chain=MBPROBE$$
iptables -N "$chain" 2>/dev/null; iptables -t mangle -N "$chain" 2>/dev/null
try drop iptables -A "$chain" -d 192.0.2.1/32 -j DROP
try statistic iptables -A "$chain" -d 192.0.2.1/32 -m statistic --mode random --probability 0.5 -j DROP
try nfqueue iptables -t mangle -A "$chain" -d 192.0.2.1/32 -j NFQUEUE --queue-num ${NFQUEUE_NUM} --queue-bypass
command -v nfq-delay >/dev/null 2>&1 || echo "nfqueue=no nfq-delay is not in the helper image"
iptables -F "$chain" 2>/dev/null; iptables -X "$chain" 2>/dev/null
iptables -t mangle -F "$chain" 2>/dev/null; iptables -t mangle -X "$chain" 2>/dev/null
echo "--"
ip -4 -o addr show scope global
echo "--"
ip -4 route show default
echo "--"
tc qdisc show
`;
}

export interface NamespaceFacts {
  readonly caps: Capabilities;
  /** Its IPv4 addresses by device. */
  readonly addresses: readonly { readonly device: string; readonly address: string }[];
  /** The default route: how the orchestrator's traffic comes and goes. */
  readonly gateway?: { readonly address: string; readonly device: string };
  /** Root qdiscs someone else set (not a default, not meshbench's), by device: shaping there is refused. */
  readonly foreignRoots: readonly { readonly device: string; readonly qdisc: string }[];
}

export function parseProbe(stdout: string): NamespaceFacts {
  const [capsPart = '', addrPart = '', routePart = '', qdiscPart = ''] = stdout.split(/^--$/m);
  const seen: Record<string, boolean> = {};
  const reasons: Record<string, string> = {};
  for (const line of capsPart.split('\n')) {
    const match = /^(\w+)=(yes|no)\s*(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, name, verdict, why] = match as unknown as [string, string, string, string];
    // a later "no" (nfq-delay missing) overrides an earlier "yes"
    if (verdict === 'no') {
      seen[name] = false;
      reasons[name] = why || 'failed';
    } else if (seen[name] === undefined) seen[name] = true;
  }
  const addresses: { device: string; address: string }[] = [];
  for (const line of addrPart.split('\n')) {
    const match = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(line.trim());
    if (match) addresses.push({ device: match[1] as string, address: match[2] as string });
  }
  const route = /default via ([\d.]+) dev (\S+)/.exec(routePart);
  const foreignRoots: { device: string; qdisc: string }[] = [];
  for (const line of qdiscPart.split('\n')) {
    const match = /^qdisc (\S+) (\S+) dev (\S+) root/.exec(line.trim());
    if (!match) continue;
    const [, kind, handle, device] = match as unknown as [string, string, string, string];
    if (DEFAULT_ROOTS.has(kind) || (kind === 'htb' && handle === `${TC_HANDLE}:`)) continue;
    foreignRoots.push({ device, qdisc: `${kind} ${handle}` });
  }
  return {
    caps: {
      netem: seen.netem === true,
      htb: seen.htb === true,
      nfqueue: seen.nfqueue === true,
      statistic: seen.statistic === true,
      drop: seen.drop === true,
      ifb: seen.ifb === true,
      reasons,
    },
    addresses,
    ...(route ? { gateway: { address: route[1] as string, device: route[2] as string } } : {}),
    foreignRoots,
  };
}

/** `ip -o route get` for each address: the device that reaches it. */
export function routeScript(addresses: readonly string[]): string {
  return addresses
    .map(
      (address) =>
        `echo "${address} $(ip -o route get ${address} 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')"`,
    )
    .join('\n');
}

export function parseRoutes(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [address, device] = line.trim().split(/\s+/);
    if (address && device) out.set(address, device);
  }
  return out;
}

/**
 * The sidecar's main process, a shell reading its stdin until it closes, then undoing
 * everything of this run in the namespace. A line `@@ <id>` starts a script, whose lines
 * follow until `@@END`; it runs in a subshell and the answer is its output, each line
 * prefixed `| `, then `@@ <id> <exit code>`. An empty line is a heartbeat (echoed). A
 * change then costs a write and a fork, not a `docker exec` (about 100 ms each here).
 *
 * Whether the node behind it still lives in this namespace (a stopped node's old namespace
 * keeps only lo; a restarted one has a new namespace, and needs a new helper) is asked without
 * disturbing the node, since it is watched for during every level:
 * - a watcher in the background (`ip monitor link`, idle until a link changes) says `@! gone`
 *   when a device leaves the namespace; `@! watching` as it starts, `@! unwatched` if it
 *   cannot run or ends (the orchestrator then asks every second);
 * - a line `@? <id>` asks whether a device besides lo is left, answered `@@ <id> 0` (yes) or
 *   `@@ <id> 1` by the shell's own glob and test, forking nothing.
 * Asking every second with a script (three forks, in a helper that runs at a higher priority
 * than the node) delayed what the nodes did at each whole second by 3-10 ms on 2 cores, and
 * the bare question by about 2 ms: every propagation probe sent at a whole second read that.
 */
export function sidecarCommand(runId: string): string[] {
  return [
    'sh',
    '-c',
    `mkdir -p ${STATE_DIR}; cd ${STATE_DIR}
renice -n -10 $$ >/dev/null 2>&1 || true
( echo '@! watching'
  ip -o monitor link 2>/dev/null | while IFS= read -r l; do case "$l" in Deleted*) echo '@! gone' ;; esac; done
  echo '@! unwatched' ) &
while IFS= read -r line; do
  case "$line" in
    '') echo ;;
    '@@ '*) id=\${line#@@ }; : > cmd.sh
       while IFS= read -r l && [ "$l" != '@@END' ]; do printf '%s\n' "$l" >> cmd.sh; done
       ( . ./cmd.sh ) > out 2>&1; rc=$?
       while IFS= read -r l; do printf '| %s\n' "$l"; done < out
       echo "@@ $id $rc" ;;
    '@? '*) id=\${line#'@? '}; rc=1
       for d in ${NET_DEVICES}/*; do [ "$d" = ${NET_DEVICES}/lo ] || [ ! -e "$d" ] || rc=0; done
       echo "@@ $id $rc" ;;
  esac
done
${teardownScript(runId)}`,
  ];
}

const HELPER_ENDED = 'the helper has ended (its container stopped or was removed)';

/** Runs scripts through a sidecar's stdin channel (sidecarCommand), one answer per script. */
export class ShellChannel {
  readonly #sidecar: Pick<Sidecar, 'write' | 'onLine'>;
  readonly #waiting = new Map<
    number,
    { resolve: (result: { exitCode: number; output: string }) => void; reject: (error: Error) => void }
  >();
  #next = 1;
  /** The helper's output ended: what is asked now, or was waiting, fails at once. */
  #ended = false;
  /** The helper's watcher is running: a device leaving the namespace is told (`@! gone`). */
  #watching = false;
  /** Devices the watcher saw leave, and how many of those a device check has answered since. */
  #gone = 0;
  #goneChecked = 0;

  constructor(sidecar: Pick<Sidecar, 'write' | 'onLine' | 'onEnd'>) {
    this.#sidecar = sidecar;
    // A helper that ended answers nothing more: without this, each question waited out its
    // timeout (15 s), as a forced exit's clearing did while the helpers were being removed.
    sidecar.onEnd(() => {
      this.#ended = true;
      const waiting = [...this.#waiting.values()];
      this.#waiting.clear();
      for (const { reject } of waiting) reject(new Error(HELPER_ENDED));
    });
    let output: string[] = [];
    sidecar.onLine((line) => {
      if (line.startsWith('| ')) {
        output.push(line.slice(2));
        return;
      }
      if (line.startsWith('@! ')) {
        this.#onWatcher(line.slice(3));
        return;
      }
      const match = /^@@ (\d+) (\d+)$/.exec(line);
      if (!match) return;
      const done = this.#waiting.get(Number(match[1]));
      const text = output.join('\n');
      output = [];
      if (!done) return;
      this.#waiting.delete(Number(match[1]));
      done.resolve({ exitCode: Number(match[2]), output: text });
    });
  }

  /** Runs `script` (sh); its exit code and output (stdout and stderr). */
  run(script: string, timeoutMs = 15_000): Promise<{ exitCode: number; output: string }> {
    const body = script.split('\n').filter((line) => line !== '@@END');
    return this.#ask((id) => `@@ ${id}\n${body.join('\n')}\n@@END\n`, timeoutMs);
  }

  /**
   * Whether the namespace has a device besides lo: false once its node stopped (its old
   * namespace keeps only lo), so a restarted node needs a new helper. Answered by the
   * helper's shell itself, without a fork (see sidecarCommand).
   */
  async hasDevices(timeoutMs = 15_000): Promise<boolean> {
    const gone = this.#gone;
    const has = (await this.#ask((id) => `@? ${id}\n`, timeoutMs)).exitCode === 0;
    if (has) this.#goneChecked = gone;
    return has;
  }

  /**
   * Whether the namespace may have lost its devices since hasDevices last said it had them: a
   * device left it, or nothing watches (then always). False costs nothing to learn.
   */
  mayHaveLostDevices(): boolean {
    return !this.#watching || this.#gone > this.#goneChecked;
  }

  #onWatcher(word: string): void {
    if (word === 'watching') this.#watching = true;
    else if (word === 'unwatched') this.#watching = false;
    else if (word === 'gone') this.#gone++;
  }

  #ask(message: (id: number) => string, timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const id = this.#next++;
    if (this.#ended) return Promise.reject(new Error(HELPER_ENDED));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`the helper did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#sidecar.write(message(id));
    });
  }
}

/** Removes this run's chains, its tc trees and its nfq-delay: safe to run twice. */
export function teardownScript(runId: string): string {
  const chain = chainOf(runId);
  const ingress = ingressChainOf(runId);
  const output = outputChainOf(runId);
  return [
    `for t in filter mangle; do while iptables -t $t -D OUTPUT -j ${output} 2>/dev/null; do :; done; iptables -t $t -F ${output} 2>/dev/null; iptables -t $t -X ${output} 2>/dev/null; done`,
    ifbSweep(),
    `[ -f ${STATE_DIR}/nfq.pid ] && kill $(cat ${STATE_DIR}/nfq.pid) 2>/dev/null; rm -f ${STATE_DIR}/nfq.pid`,
    `while iptables -D INPUT -j ${chain} 2>/dev/null; do :; done; iptables -F ${chain} 2>/dev/null; iptables -X ${chain} 2>/dev/null`,
    `while iptables -t mangle -D PREROUTING -j ${ingress} 2>/dev/null; do :; done; iptables -t mangle -F ${ingress} 2>/dev/null; iptables -t mangle -X ${ingress} 2>/dev/null`,
    `for d in $(ls /sys/class/net); do tc qdisc show dev $d root 2>/dev/null | grep -q "qdisc htb ${TC_HANDLE}: root" && tc qdisc del dev $d root; done`,
    'true',
  ].join('; ');
}

/**
 * Removes what runs that are gone left in this namespace: chains named MB-* other than
 * this run's, and a 4d42: root tree when this run has none yet. Called before the first
 * change, when no other live run shapes this namespace.
 */
export function staleSweepScript(runId: string): string {
  return sweepScript([chainOf(runId), ingressChainOf(runId), outputChainOf(runId)]);
}

/** A peer as its source's egress sees it: its addresses and the device that reaches them. */
export interface Peer {
  readonly nodeId: string;
  /** 1-based, stable for the run: the tc class minor. */
  readonly index: number;
  readonly addresses: readonly string[];
  readonly device: string;
  /**
   * The orchestrator: its receiving side is not ours, so what its receiver would do is done
   * here on the way out; `source` is this namespace's own address towards it (nfq-delay's key).
   */
  readonly external?: { readonly source: string };
}

interface ClassState {
  rate: string;
  leaf: string | null;
}

/** One namespace's shaping: what exists, and the script for the next change. */
export class NamespaceShaper {
  readonly #chain: string;
  readonly #ingress: string;
  readonly #output: string;
  readonly #choice: MechanismChoice;
  #outputMade = false;
  /** The IFB's shaping of what comes from the orchestrator: null when there is none. */
  #ifb: { device: string; source: string; rate: string; leaf: string | null } | null = null;
  readonly #devicesWithTree = new Set<string>();
  readonly #classes = new Map<string, ClassState>();
  #chainsMade = false;
  /** The iptables-restore input last applied: the same again is skipped. */
  #iptables = '';
  #nfqConfig = '';
  #nfqRunning = false;

  constructor(runId: string, choice: MechanismChoice) {
    this.#chain = chainOf(runId);
    this.#ingress = ingressChainOf(runId);
    this.#output = outputChainOf(runId);
    this.#choice = choice;
  }

  /**
   * Set-up before the first level: the run's chains and their jumps from INPUT and PREROUTING, and
   * nfq-delay started with an empty table when delay goes through it, so a change later is
   * one iptables-restore (and a SIGHUP).
   */
  prepareScript(needsDelay: boolean): string {
    const lines = [
      `mkdir -p ${STATE_DIR}`,
      `iptables -N ${this.#chain} 2>/dev/null; iptables -C INPUT -j ${this.#chain} 2>/dev/null || iptables -I INPUT 1 -j ${this.#chain}`,
      `iptables -t mangle -N ${this.#ingress} 2>/dev/null; iptables -t mangle -C PREROUTING -j ${this.#ingress} 2>/dev/null || iptables -t mangle -I PREROUTING 1 -j ${this.#ingress}`,
    ];
    this.#chainsMade = true;
    if (needsDelay && this.#choice.delay === 'nfqueue') {
      lines.push(`: > ${STATE_DIR}/delay.conf`, ...this.#startNfq());
      this.#nfqRunning = true;
    }
    return `set -e\n${lines.join('\n')}\n`;
  }

  #startNfq(): string[] {
    return [
      // released on time even on a busy host: real-time priority where allowed, else a higher nice
      `if chrt -f 10 true 2>/dev/null; then pri='chrt -f 10'; elif nice -n -10 true 2>/dev/null; then pri='nice -n -10'; else pri=''; fi`,
      `$pri nfq-delay -q ${NFQUEUE_NUM} -l ${NFQUEUE_MAXLEN} -k src -c ${STATE_DIR}/delay.conf -s ${STATE_DIR}/nfq-stats.json > ${STATE_DIR}/nfq.log 2>&1 & echo $! > ${STATE_DIR}/nfq.pid`,
      `echo "priority: \${pri:-none}" >> ${STATE_DIR}/nfq.log`,
      `for i in $(seq 1 250); do grep -q ready ${STATE_DIR}/nfq.log && break; kill -0 $(cat ${STATE_DIR}/nfq.pid) 2>/dev/null || { echo "nfq-delay did not start: $(head -1 ${STATE_DIR}/nfq.log)" >&2; exit 3; }; sleep 0.02; done`,
    ];
  }

  /** Whether anything of this run is in the namespace. */
  get active(): boolean {
    return this.#chainsMade || this.#devicesWithTree.size > 0 || this.#nfqRunning || this.#ifb !== null;
  }

  /**
   * The script that makes this namespace's links what `wanted` (to each peer) and `incoming`
   * (from each peer) say; a peer missing: clear. Rates and netem act on egress; drops,
   * statistic loss and nfq-delay's delay on ingress, keyed by the source. A packet held on
   * its sender's egress still counts against TCP Small Queues there (about two packets in
   * flight per socket at such pacing rates), which would throttle every connection to a
   * few packets per delay; held on the receiver's side it belongs to no socket.
   * Returns '' when nothing changes.
   */
  script(
    peers: readonly Peer[],
    wanted: ReadonlyMap<string, LinkQuality>,
    incoming: ReadonlyMap<string, LinkQuality> = new Map(),
  ): string {
    const lines: string[] = [];
    const filterRules: string[] = [];
    const mangleRules: string[] = [];
    const outFilter: string[] = [];
    const outMangle: string[] = [];
    const nfq: string[] = [];
    let ifbWanted: { device: string; source: string; rate: string; leaf: string | null } | null = null;
    for (const peer of peers) {
      if (peer.external) {
        // towards the orchestrator: its receiver is not ours, so drops and delay act on the way out
        const to = wanted.get(peer.nodeId);
        for (const address of peer.addresses) {
          if (!to || isClear(to)) continue;
          if (!to.up) {
            outFilter.push(`-A ${this.#output} -d ${address}/32 -j DROP`);
            continue;
          }
          if (to.lossPct > 0 && this.#choice.loss === 'iptables-statistic') {
            outFilter.push(
              `-A ${this.#output} -d ${address}/32 -m statistic --mode random --probability ${(to.lossPct / 100).toFixed(6)} -j DROP`,
            );
          }
          if ((to.delayMs > 0 || to.jitterMs > 0) && this.#choice.delay === 'nfqueue') {
            outMangle.push(
              `-A ${this.#output} -d ${address}/32 -j NFQUEUE --queue-num ${NFQUEUE_NUM} --queue-bypass`,
            );
            nfq.push(
              `${peer.external.source} ${Math.round(to.delayMs * 1000)} ${Math.round(to.jitterMs * 1000)}`,
            );
          }
        }
        // from the orchestrator: a rate, or netem's delay and loss, through the IFB
        const from = incoming.get(peer.nodeId);
        const needsRate =
          from !== undefined && from.up && from.rateBits !== null && this.#choice.rate === 'htb';
        const leaf = from && from.up && this.#choice.delay === 'netem' ? netemOf(from) : null;
        if ((needsRate || leaf !== null) && peer.addresses[0] !== undefined) {
          ifbWanted = {
            device: peer.device,
            source: peer.addresses[0],
            rate: needsRate ? `${Math.max(8, Math.round((from.rateBits as number) / 1000))}kbit` : UNLIMITED,
            leaf,
          };
        }
      }
      // drops act on the receiver's way in (INPUT), like a lossy or cut network: a packet
      // dropped on its sender's way out fails the send at once (EPERM), which TCP retries
      // within milliseconds instead of waiting for its retransmission timeout
      const from = incoming.get(peer.nodeId);
      if (!from) continue;
      for (const address of peer.addresses) {
        if (!from.up) {
          filterRules.push(`-A ${this.#chain} -s ${address}/32 -j DROP`);
          continue;
        }
        if (from.lossPct > 0 && this.#choice.loss === 'iptables-statistic') {
          filterRules.push(
            `-A ${this.#chain} -s ${address}/32 -m statistic --mode random --probability ${(from.lossPct / 100).toFixed(6)} -j DROP`,
          );
        }
        if ((from.delayMs > 0 || from.jitterMs > 0) && this.#choice.delay === 'nfqueue') {
          mangleRules.push(
            `-A ${this.#ingress} -s ${address}/32 -j NFQUEUE --queue-num ${NFQUEUE_NUM} --queue-bypass`,
          );
          nfq.push(`${address} ${Math.round(from.delayMs * 1000)} ${Math.round(from.jitterMs * 1000)}`);
        }
      }
    }
    // iptables: the chains rebuilt at once (iptables-restore --noflush flushes a declared chain)
    const needsOutput = outFilter.length > 0 || outMangle.length > 0 || this.#outputMade;
    const rules = (chain: string, list: readonly string[]) =>
      `:${chain} - [0:0]\n${list.map((r) => `${r}\n`).join('')}`;
    const restore =
      `*filter\n${rules(this.#chain, filterRules)}${needsOutput ? rules(this.#output, outFilter) : ''}COMMIT\n` +
      `*mangle\n${rules(this.#ingress, mangleRules)}${needsOutput ? rules(this.#output, outMangle) : ''}COMMIT\n`;
    if (
      (filterRules.length > 0 || mangleRules.length > 0 || needsOutput || this.#chainsMade) &&
      restore !== this.#iptables
    ) {
      const jumps = this.#chainsMade
        ? ''
        : `iptables -C INPUT -j ${this.#chain} 2>/dev/null || iptables -I INPUT 1 -j ${this.#chain}\n`;
      lines.push(`iptables-restore --noflush <<'MB_EOF'\n${restore}MB_EOF`);
      if (jumps) lines.push(jumps.trimEnd());
      if (needsOutput && !this.#outputMade) {
        lines.push(
          `for t in filter mangle; do iptables -t $t -C OUTPUT -j ${this.#output} 2>/dev/null || iptables -t $t -I OUTPUT 1 -j ${this.#output}; done`,
        );
        this.#outputMade = true;
      }
      this.#chainsMade = true;
      this.#iptables = restore;
    }
    lines.push(...this.#ifbScript(ifbWanted));
    // nfq-delay: its table, then started (or told to re-read it)
    const config = nfq.join('\n');
    if (config !== this.#nfqConfig) {
      lines.push(
        `mkdir -p ${STATE_DIR}; cat > ${STATE_DIR}/delay.conf.tmp <<'MB_EOF'\n${config}\nMB_EOF\nmv ${STATE_DIR}/delay.conf.tmp ${STATE_DIR}/delay.conf`,
      );
      if (!this.#nfqRunning && config !== '') {
        lines.push(...this.#startNfq());
        this.#nfqRunning = true;
      } else if (this.#nfqRunning) {
        lines.push(`kill -HUP $(cat ${STATE_DIR}/nfq.pid)`);
      }
      this.#nfqConfig = config;
    }
    // tc: a class per peer that needs a rate, or a netem leaf
    const tc: string[] = [];
    for (const peer of peers) {
      const q = wanted.get(peer.nodeId);
      const needsRate = q !== undefined && q.up && q.rateBits !== null && this.#choice.rate === 'htb';
      const netemArgs = q && q.up && this.#choice.delay === 'netem' ? netemOf(q) : null;
      const key = `${peer.device}/${peer.index}`;
      const existing = this.#classes.get(key);
      if (!needsRate && netemArgs === null && !existing) continue;
      const rate = needsRate ? `${Math.max(8, Math.round((q.rateBits as number) / 1000))}kbit` : UNLIMITED;
      const classId = `${TC_HANDLE}:${peer.index.toString(16)}`;
      if (!this.#devicesWithTree.has(peer.device)) {
        tc.push(`qdisc add dev ${peer.device} root handle ${TC_HANDLE}: htb default 0`);
        this.#devicesWithTree.add(peer.device);
      }
      if (!existing) {
        tc.push(
          `class add dev ${peer.device} parent ${TC_HANDLE}: classid ${classId} htb rate ${rate} ceil ${rate} quantum 30000`,
        );
        for (const address of peer.addresses) {
          tc.push(
            `filter add dev ${peer.device} parent ${TC_HANDLE}: protocol ip prio 1 u32 match ip dst ${address}/32 flowid ${classId}`,
          );
        }
      } else if (existing.rate !== rate) {
        tc.push(
          `class change dev ${peer.device} parent ${TC_HANDLE}: classid ${classId} htb rate ${rate} ceil ${rate} quantum 30000`,
        );
      }
      const leafHandle = `${peer.index.toString(16)}:`;
      if (netemArgs !== null && existing?.leaf !== netemArgs) {
        tc.push(`qdisc replace dev ${peer.device} parent ${classId} handle ${leafHandle} netem ${netemArgs}`);
      } else if (netemArgs === null && existing?.leaf) {
        tc.push(`qdisc del dev ${peer.device} parent ${classId} handle ${leafHandle}`);
      }
      this.#classes.set(key, { rate, leaf: netemArgs });
    }
    if (tc.length > 0) lines.push(`tc -batch - <<'MB_EOF'\n${tc.join('\n')}\nMB_EOF`);
    return lines.length === 0 ? '' : `set -e\n${lines.join('\n')}\n`;
  }

  /**
   * Every condition off (a level's end): the chains emptied, nfq-delay's table emptied, the
   * tc trees removed. The chains' jumps and nfq-delay stay for the next level; the
   * sidecar's exit (teardownScript) removes them.
   */
  clearScript(): string {
    const lines: string[] = [];
    if (this.#chainsMade) {
      lines.push(
        `for t in filter mangle; do iptables -t $t -F ${this.#chain}; done; iptables -t mangle -F ${this.#ingress}`,
      );
      this.#iptables = '';
    }
    if (this.#outputMade) lines.push(`for t in filter mangle; do iptables -t $t -F ${this.#output}; done`);
    lines.push(...this.#ifbScript(null));
    if (this.#nfqRunning && this.#nfqConfig !== '') {
      lines.push(`: > ${STATE_DIR}/delay.conf; kill -HUP $(cat ${STATE_DIR}/nfq.pid)`);
    }
    this.#nfqConfig = '';
    for (const device of this.#devicesWithTree) {
      lines.push(
        `tc qdisc show dev ${device} root | grep -q "qdisc htb ${TC_HANDLE}: root" && tc qdisc del dev ${device} root || true`,
      );
    }
    this.#devicesWithTree.clear();
    this.#classes.clear();
    return lines.join('\n');
  }

  /** The script that makes the IFB's shaping of the orchestrator's traffic `wanted` (null: none). */
  #ifbScript(wanted: { device: string; source: string; rate: string; leaf: string | null } | null): string[] {
    const had = this.#ifb;
    if (had === null && wanted === null) return [];
    if (wanted === null || (had !== null && had.device !== wanted.device)) {
      this.#ifb = null;
      const off = [ifbSweep()];
      return wanted === null ? off : [...off, ...this.#ifbScript(wanted)];
    }
    const tc: string[] = [];
    const classId = `${TC_HANDLE}:1`;
    if (had === null) {
      tc.push(
        `qdisc add dev ${IFB_DEVICE} root handle ${TC_HANDLE}: htb default 1`,
        `class add dev ${IFB_DEVICE} parent ${TC_HANDLE}: classid ${classId} htb rate ${wanted.rate} ceil ${wanted.rate} quantum 30000`,
        `qdisc add dev ${wanted.device} handle ffff: ingress`,
        `filter add dev ${wanted.device} parent ffff: protocol ip prio 1 u32 match ip src ${wanted.source}/32 action mirred egress redirect dev ${IFB_DEVICE}`,
      );
    } else if (had.rate !== wanted.rate) {
      tc.push(
        `class change dev ${IFB_DEVICE} parent ${TC_HANDLE}: classid ${classId} htb rate ${wanted.rate} ceil ${wanted.rate} quantum 30000`,
      );
    }
    if (wanted.leaf !== null && had?.leaf !== wanted.leaf) {
      tc.push(`qdisc replace dev ${IFB_DEVICE} parent ${classId} handle 1: netem ${wanted.leaf}`);
    } else if (wanted.leaf === null && had?.leaf) {
      tc.push(`qdisc del dev ${IFB_DEVICE} parent ${classId} handle 1:`);
    }
    this.#ifb = wanted;
    if (tc.length === 0) return [];
    const make =
      had === null
        ? [`ip link add ${IFB_DEVICE} type ifb 2>/dev/null || true; ip link set ${IFB_DEVICE} up`]
        : [];
    return [...make, `tc -batch - <<'MB_EOF'\n${tc.join('\n')}\nMB_EOF`];
  }

  /** The nfq-delay counters, when it runs. */
  statsScript(): string {
    return this.#nfqRunning
      ? `kill -USR1 $(cat ${STATE_DIR}/nfq.pid) 2>/dev/null; sleep 0.05; cat ${STATE_DIR}/nfq-stats.json 2>/dev/null`
      : '';
  }
}

/** netem's arguments for a link (delay, jitter, loss; a large limit so it never drops for room). */
function netemOf(q: LinkQuality): string | null {
  if (q.delayMs === 0 && q.jitterMs === 0 && q.lossPct === 0) return null;
  const parts = [`delay ${q.delayMs}ms`];
  if (q.jitterMs > 0) parts.push(`${q.jitterMs}ms`);
  if (q.lossPct > 0) parts.push(`loss ${q.lossPct}%`);
  parts.push('limit 100000');
  return parts.join(' ');
}
