/**
 * The network helper's control channel: whether a node still lives in a helper's namespace
 * is learnt from the helper's watcher (`@! watching`, `@! gone`) without asking it anything,
 * so nothing disturbs the nodes each second of a level; the helper is asked (`@? <id>`) only
 * after a device left its namespace, or when nothing watches.
 */
import { describe, expect, it } from 'vitest';
import { reviveRestarted, type Namespace } from '../../../src/conditions/namespaces.js';
import { chooseMechanisms, NamespaceShaper, ShellChannel } from '../../../src/conditions/shaper.js';
import type { NodeHandle, Sidecar } from '../../../src/testbed/testbed.js';

/** A helper that answers `@?` with whether it `has` devices, and records what it was sent. */
function fakeHelper(options: { has: () => boolean; say?: readonly string[] }) {
  const sent: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  const endListeners: (() => void)[] = [];
  const say = (line: string) => listeners.forEach((listener) => listener(line));
  const end = () => endListeners.splice(0).forEach((listener) => listener());
  const sidecar: Sidecar = {
    id: 'helper',
    host: 'local',
    exec: () => Promise.reject(new Error('no exec')),
    write: (text) => {
      sent.push(text);
      const asked = /^@\? (\d+)\n$/.exec(text);
      if (asked) queueMicrotask(() => say(`@@ ${asked[1]} ${options.has() ? 0 : 1}`));
    },
    onLine: (listener) => {
      listeners.push(listener);
    },
    onEnd: (listener) => {
      endListeners.push(listener);
    },
    close: () => Promise.resolve(),
  };
  const channel = new ShellChannel(sidecar);
  for (const line of options.say ?? []) say(line);
  return { sidecar, channel, sent, say, end };
}

const caps = { netem: false, htb: true, nfqueue: true, statistic: true, drop: true, reasons: {} };

function namespaceOf(channel: ShellChannel, sidecar: Sidecar, restarts: { count: number }): Namespace {
  const node = {
    nodeId: 'node0',
    sidecar: () => {
      restarts.count++;
      return Promise.reject(new Error('the node is down'));
    },
  } as unknown as NodeHandle;
  const choice = chooseMechanisms(caps);
  return {
    key: 'node0',
    nodes: ['node0'],
    node,
    sidecar,
    channel,
    caps,
    choice,
    shaper: new NamespaceShaper('run', choice),
    foreignRoots: [],
    peers: [],
    applied: new Map(),
  };
}

const revive = (ns: Namespace) => reviveRestarted([ns], { runId: 'run', prepareDelay: false });

describe("the network helper's channel", () => {
  it('fails what waits, and what is asked later, at once when the helper ends (not at the 15 s timeout)', async () => {
    const helper = fakeHelper({ has: () => true });
    const waiting = helper.channel.run('sleep 60', 60_000);
    helper.end();
    await expect(waiting).rejects.toThrow(/the helper has ended/);
    await expect(helper.channel.run('true', 60_000)).rejects.toThrow(/the helper has ended/);
    await expect(helper.channel.hasDevices(60_000)).rejects.toThrow(/the helper has ended/);
  });

  it('asks nothing while the watcher runs and no device left the namespace', async () => {
    const helper = fakeHelper({ has: () => true, say: ['@! watching'] });
    const restarts = { count: 0 };
    const ns = namespaceOf(helper.channel, helper.sidecar, restarts);
    for (let second = 0; second < 5; second++) expect(await revive(ns)).toEqual([]);
    expect(helper.sent).toEqual([]);
    expect(restarts.count).toBe(0);
  });

  it('asks once after a device left; a node still down is tried again each time until it is back', async () => {
    let has = true;
    const helper = fakeHelper({ has: () => has, say: ['@! watching'] });
    const restarts = { count: 0 };
    const ns = namespaceOf(helper.channel, helper.sidecar, restarts);
    // a device left, but the namespace still has one (our own IFB device removed, say): asked once
    helper.say('@! gone');
    expect(await revive(ns)).toEqual([]);
    expect(await revive(ns)).toEqual([]);
    expect(helper.sent).toEqual(['@? 1\n']);
    expect(restarts.count).toBe(0);
    // the node stopped: its namespace has only lo, and a new helper is tried each time
    has = false;
    helper.say('@! gone');
    await revive(ns);
    await revive(ns);
    expect(helper.sent).toEqual(['@? 1\n', '@? 2\n', '@? 3\n']);
    expect(restarts.count).toBe(2);
  });

  it('a device that leaves while the question is on its way is asked about again', async () => {
    const helper = fakeHelper({ has: () => true, say: ['@! watching', '@! gone'] });
    const asked = helper.channel.hasDevices();
    helper.say('@! gone');
    expect(await asked).toBe(true);
    expect(helper.channel.mayHaveLostDevices()).toBe(true);
    expect(await helper.channel.hasDevices()).toBe(true);
    expect(helper.channel.mayHaveLostDevices()).toBe(false);
  });

  it('asks every time when nothing watches: before the watcher starts, and once it ended', async () => {
    const helper = fakeHelper({ has: () => true });
    const ns = namespaceOf(helper.channel, helper.sidecar, { count: 0 });
    await revive(ns);
    helper.say('@! watching');
    await revive(ns);
    helper.say('@! unwatched');
    await revive(ns);
    await revive(ns);
    expect(helper.sent).toEqual(['@? 1\n', '@? 2\n', '@? 3\n']);
  });

  it("the watcher's lines are not a script's output", async () => {
    const helper = fakeHelper({ has: () => true });
    const ran = helper.channel.run('echo hi');
    helper.say('| hi');
    helper.say('@! watching');
    helper.say('| there');
    helper.say('@@ 1 0');
    expect(await ran).toEqual({ exitCode: 0, output: 'hi\nthere' });
    expect(helper.channel.mayHaveLostDevices()).toBe(false);
  });
});
