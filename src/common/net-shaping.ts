/**
 * What meshbench puts into a network namespace to shape its links, named once: the tc
 * root handle it owns, the prefix of its iptables chains, and the script that removes
 * what a run left (src/conditions/shaper.ts writes the rules; `remote-network --down`
 * sweeps a host's namespace with it when the helpers that would have cleaned up are gone).
 */

/** The root handle of meshbench's tc trees ("MB"). */
export const TC_HANDLE = '4d42';
/** The prefix of meshbench's iptables chains: MB-<run>, MB-<run>-i, MB-<run>-o. */
export const CHAIN_PREFIX = 'MB-';
/** The IFB device that takes a namespace's ingress from the orchestrator (--shape-orchestrator) to shape it. */
export const IFB_DEVICE = 'mb-ifb';
/** The image of the sidecar that shapes links (MESHBENCH_NETHELPER_IMAGE names another tag). */
export { NETHELPER_IMAGE } from './defaults.js';

/**
 * Removes meshbench's chains (but `keep`) with their jumps from OUTPUT, INPUT and PREROUTING, its
 * tc root trees, and its IFB with the ingress redirect to it; prints one line per thing removed. Needs iptables and tc (the nethelper).
 */
export function sweepScript(keep: readonly string[] = []): string {
  const skip = keep.map((chain) => `[ "$c" = ${chain} ]`).join(' || ');
  return `for t in filter mangle; do for c in $(iptables -t $t -S 2>/dev/null | sed -n 's/^-N \\(${CHAIN_PREFIX}[^ ]*\\)$/\\1/p'); do ${skip ? `{ ${skip}; } && continue; ` : ''}for h in OUTPUT INPUT PREROUTING; do while iptables -t $t -D $h -j $c 2>/dev/null; do :; done; done; iptables -t $t -F $c; iptables -t $t -X $c; echo "removed chain $c ($t)"; done; done
for d in $(ls /sys/class/net); do tc qdisc show dev $d root 2>/dev/null | grep -q "qdisc htb ${TC_HANDLE}: root" && tc qdisc del dev $d root && echo "removed tc tree ${TC_HANDLE}: on $d"; done
${ifbSweep('echo "removed the ingress redirect to ${IFB_DEVICE} on $d"', `echo "removed ${IFB_DEVICE}"`)}
true`;
}

/** Removes the ingress qdisc that redirects to meshbench's IFB (none other), then the IFB itself. */
export function ifbSweep(onIngress = ':', onDevice = ':'): string {
  return `for d in $(ls /sys/class/net); do tc filter show dev $d parent ffff: 2>/dev/null | grep -q "${IFB_DEVICE}" && tc qdisc del dev $d ingress && ${onIngress}; done; ip link show ${IFB_DEVICE} >/dev/null 2>&1 && ip link del ${IFB_DEVICE} && ${onDevice}; true`;
}
