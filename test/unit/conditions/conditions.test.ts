/**
 * Network conditions, the pure parts: the scenario events and their bad-input lines, the
 * quantities, Jepsen's partition shapes, zones from a CSV matrix, the mobility range model,
 * the model that combines them, and the scripts the shaper writes for one namespace.
 */
import { describe, expect, it } from 'vitest';
import { isMeshbenchError } from '../../../src/common/errors.js';
import { describeBase } from '../../../src/conditions/block.js';
import { ConditionModel, linkKey } from '../../../src/conditions/model.js';
import { cutLinks, shapeViews } from '../../../src/scenario/partitions.js';
import { parseDelay, parseLoss, parseRate } from '../../../src/scenario/quantities.js';
import { rangeQuality, type MobilityModel } from '../../../src/scenario/mobility.js';
import { chooseMechanisms, NamespaceShaper, parseProbe, type Peer } from '../../../src/conditions/shaper.js';
import { parseZoneMatrix, zoneOfNodes } from '../../../src/scenario/zones.js';
import { networkEvents, parseScenario } from '../../../src/scenario/scenario.js';

const nodes4 = ['node0', 'node1', 'node2', 'node3'];

function scenario(yaml: string) {
  return parseScenario(yaml, 'test.yaml');
}

function refusal(yaml: string): string {
  try {
    scenario(yaml);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('quantities', () => {
  it('reads delays, rates and loss with their units', () => {
    expect(parseDelay('50ms')).toEqual({ ok: true, value: 50 });
    expect(parseDelay('200us')).toEqual({ ok: true, value: 0.2 });
    expect(parseDelay('1.5s')).toEqual({ ok: true, value: 1500 });
    expect(parseRate('10mbit')).toEqual({ ok: true, value: 10_000_000 });
    expect(parseLoss('2%')).toEqual({ ok: true, value: 2 });
  });

  it('refuses a delay or bandwidth without a unit, and loss outside 0-100%', () => {
    expect(parseDelay('50')).toMatchObject({ ok: false, reason: '50 has no unit (write 50ms)' });
    expect(parseRate('10')).toMatchObject({ ok: false, reason: expect.stringContaining('has no unit') });
    expect(parseLoss('120%')).toMatchObject({ ok: false, reason: '120% is outside 0-100%' });
  });
});

describe('condition events in a scenario', () => {
  it('parses every kind, with ramps and link selectors', () => {
    const parsed = scenario(`events:
  - { at: 1s, action: delay, delay: 50ms, jitter: 5ms }
  - { from: 2s, to: 10s, action: loss, links: ["node0->node1"], loss: "0%->20%" }
  - { from: 3s, to: 5s, action: bandwidth, links: "node0<->node2", rate: 1mbit }
  - { from: 4s, to: 6s, action: partition, shape: bisect }
  - { at: 5s, action: crash, nodes: node3 }
`);
    const events = networkEvents(parsed);
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({
      fromMs: 1000,
      toMs: null,
      selector: { kind: 'all' },
      settings: { delay: { from: 50, to: 50 }, jitter: { from: 5, to: 5 } },
    });
    expect(events[1]).toMatchObject({
      settings: { loss: { from: 0, to: 20 } },
      selector: { links: [{ from: 'node0', to: 'node1' }] },
    });
    expect(events[2]?.selector).toEqual({
      kind: 'links',
      links: [
        { from: 'node0', to: 'node2' },
        { from: 'node2', to: 'node0' },
      ],
    });
    expect(events[3]).toMatchObject({ action: 'partition', partition: { shape: 'bisect' } });
    expect(parsed.events[4]).toMatchObject({ kind: 'point', action: 'kill' });
  });

  it('names the field and its line for each bad input', () => {
    expect(refusal('events:\n  - { at: 1s, action: loss, loss: 150% }\n')).toBe(
      'test.yaml: line 2: events[0].loss: 150% is outside 0-100%',
    );
    expect(refusal('events:\n  - { at: 1s, action: delay, delay: 50 }\n')).toBe(
      'test.yaml: line 2: events[0].delay: 50 has no unit (write 50ms)',
    );
    expect(refusal('events:\n  - { at: 1s, action: bandwidth, rate: 10 }\n')).toMatch(
      /^test.yaml: line 2: events\[0\].rate: 10 has no unit/,
    );
    expect(refusal('events:\n  - { at: 1s, action: loss, loss: "0%->5%" }\n')).toMatch(
      /a ramp needs a window/,
    );
    expect(refusal('events:\n  - { from: 1s, to: 2s, action: partition }\n')).toMatch(
      /events\[0\].shape: a partition needs "shape"/,
    );
    expect(refusal('events:\n  - { from: 1s, to: 2s, action: partition, shape: ring }\n')).toMatch(
      /shape: must be one of bisect, split-one, bridge, majorities-ring/,
    );
    expect(refusal('events:\n  - { at: 1s, action: delay, links: "node0=>node1", delay: 5ms }\n')).toMatch(
      /is not a link/,
    );
    expect(refusal('events: []\nmobility: { range: -5, positions: {} }\n')).toMatch(
      /^test.yaml: line 2: mobility.range:/,
    );
  });
});

describe('partitions in Jepsen shapes', () => {
  const cut = (views: ReturnType<typeof shapeViews>) =>
    new Set(cutLinks(views).map(([a, b]) => `${a}->${b}`));

  it('bisect cuts the two halves apart both ways', () => {
    const links = cut(shapeViews('bisect', nodes4));
    expect(links).toEqual(
      new Set([
        'node2->node0',
        'node3->node0',
        'node2->node1',
        'node3->node1',
        'node0->node2',
        'node1->node2',
        'node0->node3',
        'node1->node3',
      ]),
    );
  });

  it('majorities-ring of 5: each node hears itself and its two ring neighbours, a majority each', () => {
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const views = shapeViews('majorities-ring', nodes);
    expect([...(views.get('n0') ?? [])].sort()).toEqual(['n0', 'n1', 'n4']);
    for (const heard of views.values()) expect(heard.size).toBe(3);
    expect(cutLinks(views)).toHaveLength(10);
  });

  it('bridge: one node hears both halves, which do not hear each other', () => {
    const views = shapeViews('bridge', ['a', 'b', 'c', 'd', 'e']);
    expect([...(views.get('c') ?? [])].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(views.get('a')?.has('d')).toBe(false);
  });
});

describe('zones', () => {
  const csv = '# source\nfrom\\to,a,b\na,0ms,40ms\nb,41ms,0.5ms 1% 10mbit\n';

  it('reads a square matrix with units and assigns nodes round robin', () => {
    const matrix = parseZoneMatrix(csv, 'z.csv');
    expect(matrix.cells[1]?.[1]).toEqual({ delayMs: 0.5, lossPct: 1, rateBits: 10_000_000 });
    expect([...zoneOfNodes({ matrix }, nodes4).values()]).toEqual(['a', 'b', 'a', 'b']);
    const model = new ConditionModel({ events: [], zones: { matrix } }, ['node0', 'node1']);
    expect(model.at(0).get(linkKey('node0', 'node1'))?.delayMs).toBe(40);
    expect(model.at(0).get(linkKey('node1', 'node0'))?.delayMs).toBe(41);
    // the line the level's first change prints: which node went to which zone
    expect(describeBase({ events: [], zones: { matrix: parseZoneMatrix(csv, '/x/z.csv') } }, model)).toBe(
      'zones from z.csv (node0 a, node1 b)',
    );
    expect(describeBase({ events: [] }, new ConditionModel({ events: [] }, ['node0']))).toBeUndefined();
  });

  it('refuses a matrix that is not square, a cell without a unit, and a node with no zone', () => {
    expect(() => parseZoneMatrix('x,a,b\na,0ms,1ms\n', 'z.csv')).toThrow(
      'z.csv: not square: 2 zones in the header and 1 rows (one row per zone)',
    );
    expect(() => parseZoneMatrix('x,a,b\na,0ms,1ms\nb,1,0ms\n', 'z.csv')).toThrow(
      'z.csv: line 3: b -> a: 1 has no unit (write 1ms)',
    );
    const matrix = parseZoneMatrix(csv, 'z.csv');
    expect(() => zoneOfNodes({ matrix, assign: { node0: 'a' } }, ['node0', 'node1'])).toThrow(
      'zones: node node1 has no zone',
    );
  });
});

describe('mobility (range model)', () => {
  const model: MobilityModel = { model: 'range', range: 100, fade: 0.5, delayMs: 2, rateBits: 10_000_000 };

  it('full quality near, a loss ramp towards the edge, no link beyond the range', () => {
    expect(rangeQuality(model, 10)).toMatchObject({ up: true, lossPct: 0, rateBits: 10_000_000 });
    expect(rangeQuality(model, 75)).toMatchObject({ up: true, lossPct: 50, rateBits: 5_000_000 });
    expect(rangeQuality(model, 100)).toMatchObject({ up: false });
  });

  it('a node moving out of range loses its links and regains them coming back', () => {
    const parsed = scenario(`events: []
mobility:
  range: 100
  positions: { node0: [0, 0], node1: [50, 0] }
  moves:
    - { node: node1, from: 0s, to: 10s, position: [250, 0] }
    - { node: node1, from: 10s, to: 20s, position: [50, 0] }
`);
    const m = new ConditionModel({ events: [], ...(parsed.mobility ? { mobility: parsed.mobility } : {}) }, [
      'node0',
      'node1',
    ]);
    expect(m.at(0).get('node0->node1')?.up).toBe(true);
    expect(m.at(10_000).get('node0->node1')?.up).toBe(false);
    expect(m.at(20_000).get('node0->node1')?.up).toBe(true);
    expect(m.continuous).toBe(true);
    expect(describeBase({ events: [], mobility: parsed.mobility! }, m)).toBe(
      'mobility (range 100 m, 2 nodes placed, 2 moves)',
    );
  });
});

describe('the model and the shaper', () => {
  it('a later event wins field by field; a ramp moves over its window', () => {
    const parsed = scenario(`events:
  - { from: 0s, to: 10s, action: delay, delay: 10ms }
  - { from: 0s, to: 10s, action: loss, nodes: node1, loss: "0%->10%" }
`);
    const m = new ConditionModel({ events: networkEvents(parsed) }, nodes4);
    expect(m.at(5000).get('node0->node1')).toMatchObject({ delayMs: 10, lossPct: 5 });
    expect(m.at(5000).get('node0->node2')).toMatchObject({ delayMs: 10, lossPct: 0 });
    expect(m.at(10_000).get('node0->node1')).toMatchObject({ delayMs: 0, lossPct: 0 });
  });

  it('without netem: delay on ingress by nfq-delay keyed by source, loss and partitions by iptables, rate by htb', () => {
    const caps = parseProbe(
      'netem=no Error: Specified qdisc kind is unknown.\nhtb=yes\ndrop=yes\nstatistic=yes\nnfqueue=yes\n--\n2: eth0    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\n',
    ).caps;
    const choice = chooseMechanisms(caps);
    expect(choice).toEqual({
      delay: 'nfqueue',
      loss: 'iptables-statistic',
      rate: 'htb',
      partition: 'iptables-drop',
    });
    const shaper = new NamespaceShaper('20261124-000000-abcdef', choice);
    const peers: Peer[] = [{ nodeId: 'node1', index: 2, addresses: ['10.0.0.3'], device: 'eth0' }];
    expect(shaper.prepareScript(true)).toContain('nfq-delay -q 4242 -l 65536 -k src');
    const quality = { delayMs: 50, jitterMs: 0, lossPct: 5, rateBits: 1_000_000, up: true };
    const script = shaper.script(peers, new Map([['node1', quality]]), new Map([['node1', quality]]));
    expect(script).toContain(
      '-A MB-20261124-000000-abcdef -s 10.0.0.3/32 -m statistic --mode random --probability 0.050000 -j DROP',
    );
    expect(script).toContain(
      '-A MB-20261124-000000-abcdef-i -s 10.0.0.3/32 -j NFQUEUE --queue-num 4242 --queue-bypass',
    );
    expect(script).toContain('10.0.0.3 50000 0');
    expect(script).toContain(
      'class add dev eth0 parent 4d42: classid 4d42:2 htb rate 1000kbit ceil 1000kbit',
    );
    expect(script).toContain(
      'filter add dev eth0 parent 4d42: protocol ip prio 1 u32 match ip dst 10.0.0.3/32 flowid 4d42:2',
    );
    // the same again changes nothing; a partition replaces the loss rule
    expect(shaper.script(peers, new Map([['node1', quality]]), new Map([['node1', quality]]))).not.toContain(
      'class',
    );
    // what node1 sends is cut on this namespace's way in
    const cut = shaper.script(
      peers,
      new Map([['node1', quality]]),
      new Map([['node1', { ...quality, up: false }]]),
    );
    expect(cut).toContain('-A MB-20261124-000000-abcdef -s 10.0.0.3/32 -j DROP');
    expect(cut).not.toContain('statistic');
    expect(shaper.clearScript()).toContain('tc qdisc del dev eth0 root');
  });

  it('with netem: a netem leaf under the peer class', () => {
    const choice = chooseMechanisms({
      netem: true,
      htb: true,
      nfqueue: true,
      statistic: true,
      drop: true,
      reasons: {},
    });
    expect(choice.delay).toBe('netem');
    const shaper = new NamespaceShaper('r1', choice);
    const script = shaper.script(
      [{ nodeId: 'b', index: 1, addresses: ['10.0.0.3'], device: 'eth0' }],
      new Map([['b', { delayMs: 50, jitterMs: 5, lossPct: 1, rateBits: null, up: true }]]),
    );
    expect(script).toContain(
      'qdisc replace dev eth0 parent 4d42:1 handle 1: netem delay 50ms 5ms loss 1% limit 100000',
    );
  });

  it('reads the gateway and root qdiscs someone else set from the probe', () => {
    const facts = parseProbe(
      'netem=no x\nhtb=yes\nifb=yes\n--\n2: eth0    inet 10.0.0.2/24 scope global eth0\n--\ndefault via 10.0.0.1 dev eth0\n--\n' +
        'qdisc noqueue 0: dev lo root refcnt 2\nqdisc tbf 8001: dev eth0 root refcnt 2 rate 1Mbit\nqdisc htb 4d42: dev eth1 root refcnt 2\n',
    );
    expect(facts.gateway).toEqual({ address: '10.0.0.1', device: 'eth0' });
    expect(facts.caps.ifb).toBe(true);
    // a default qdisc and meshbench's own tree are not someone else's
    expect(facts.foreignRoots).toEqual([{ device: 'eth0', qdisc: 'tbf 8001:' }]);
  });
});

describe('the orchestrator as an endpoint (--shape-orchestrator)', () => {
  const conditions = (yaml: string) => ({ events: networkEvents(scenario(yaml)) });

  it('is shaped only when asked: then `all` covers its links, and shapes still cut nodes only', () => {
    const all = conditions('events:\n  - { at: 0s, action: delay, delay: 20ms }\n');
    expect([...new ConditionModel(all, nodes4).at(0).keys()].some((key) => key.includes('client'))).toBe(
      false,
    );
    const shaped = new ConditionModel(all, nodes4, { orchestrator: true }).at(0);
    expect(shaped.get(linkKey('client', 'node0'))?.delayMs).toBe(20);
    expect(shaped.get(linkKey('node3', 'client'))?.delayMs).toBe(20);
    const bisect = new ConditionModel(
      conditions('events:\n  - { at: 0s, action: partition, shape: bisect }\n'),
      nodes4,
      { orchestrator: true },
    ).at(0);
    expect(bisect.get(linkKey('node0', 'node2'))?.up).toBe(false);
    expect([...bisect].filter(([key, q]) => key.includes('client') && !q.up)).toEqual([]);
    // named: cut off from every node
    const alone = new ConditionModel(
      conditions('events:\n  - { at: 0s, action: partition, nodes: [client] }\n'),
      nodes4,
      { orchestrator: true },
    ).at(0);
    expect(alone.get(linkKey('client', 'node1'))?.up).toBe(false);
    expect(alone.get(linkKey('node1', 'client'))?.up).toBe(false);
    expect(alone.get(linkKey('node1', 'node2'))?.up).toBe(true);
  });

  it('has a zone only when given one', () => {
    const matrix = parseZoneMatrix('from,a,b\na,1ms,30ms\nb,30ms,1ms\n', 'z.csv');
    const zoned = new ConditionModel({ events: [], zones: { matrix } }, ['node0', 'node1'], {
      orchestrator: true,
    }).at(0);
    expect(zoned.get(linkKey('node0', 'node1'))?.delayMs).toBe(30);
    expect(zoned.get(linkKey('client', 'node1'))?.delayMs).toBe(0);
    const assigned = new ConditionModel(
      { events: [], zones: { matrix, assign: { node0: 'a', node1: 'b', client: 'a' } } },
      ['node0', 'node1'],
      { orchestrator: true },
    ).at(0);
    expect(assigned.get(linkKey('client', 'node1'))?.delayMs).toBe(30);
    expect(() =>
      zoneOfNodes({ matrix, assign: { node0: 'a', node1: 'b', client: 'a' } }, ['node0', 'node1']),
    ).toThrow(/--shape-orchestrator/);
  });

  it("towards it the receiver's part is done on the way out; from it a rate goes through the IFB", () => {
    const choice = chooseMechanisms({
      netem: false,
      htb: true,
      nfqueue: true,
      statistic: true,
      drop: true,
      ifb: true,
      reasons: {},
    });
    const shaper = new NamespaceShaper('r1', choice);
    const client: Peer = {
      nodeId: 'client',
      index: 5,
      addresses: ['10.0.0.1'],
      device: 'eth0',
      external: { source: '10.0.0.2' },
    };
    const out = { delayMs: 40, jitterMs: 0, lossPct: 10, rateBits: null, up: true };
    const back = { delayMs: 0, jitterMs: 0, lossPct: 0, rateBits: 2_000_000, up: true };
    const script = shaper.script([client], new Map([['client', out]]), new Map([['client', back]]));
    expect(script).toContain(
      '-A MB-r1-o -d 10.0.0.1/32 -m statistic --mode random --probability 0.100000 -j DROP',
    );
    expect(script).toContain('-A MB-r1-o -d 10.0.0.1/32 -j NFQUEUE --queue-num 4242 --queue-bypass');
    // nfq-delay keys by source: on the way out that is this namespace's own address
    expect(script).toContain('10.0.0.2 40000 0');
    expect(script).toContain('iptables -t $t -I OUTPUT 1 -j MB-r1-o');
    expect(script).toContain('ip link add mb-ifb type ifb');
    expect(script).toContain(
      'class add dev mb-ifb parent 4d42: classid 4d42:1 htb rate 2000kbit ceil 2000kbit',
    );
    expect(script).toContain(
      'filter add dev eth0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1/32 action mirred egress redirect dev mb-ifb',
    );
    // the same again changes nothing; clear removes the IFB and empties the output chain
    expect(shaper.script([client], new Map([['client', out]]), new Map([['client', back]]))).toBe('');
    const cleared = shaper.clearScript();
    expect(cleared).toContain('iptables -t $t -F MB-r1-o');
    expect(cleared).toContain('ip link del mb-ifb');
  });
});

describe('zones on one network of two', () => {
  it('--zones-on remote: a local network gets no helpers and no conditions', async () => {
    const { NetworkConditioner } = await import('../../../src/conditions/conditioner.js');
    const matrix = parseZoneMatrix('x,a,b\na,0ms,40ms\nb,40ms,0ms\n', 'z.csv');
    const conditioner = new NetworkConditioner({
      conditions: { events: [], zones: { matrix } },
      zonesOn: 'remote',
      source: '--zones z.csv',
      confirmCommit: true,
    });
    // nodes without sidecars: a conditioner that had work here would refuse them
    const deployment = { kind: 'local', runId: 'r', nodes: [{ nodeId: 'node0' }, { nodeId: 'node1' }] };
    await expect(conditioner.onDeploy(deployment as never, 'local')).resolves.toBeUndefined();
    await expect(conditioner.onDeploy(deployment as never, 'remote')).rejects.toThrow(
      /network conditions need the nodes' network namespaces/,
    );
  });

  it("a compose file's nodes that the zone assignment leaves out: one line, exit 2, before any helper starts", async () => {
    const { NetworkConditioner } = await import('../../../src/conditions/conditioner.js');
    const matrix = parseZoneMatrix('x,a,b\na,0ms,40ms\nb,40ms,0ms\n', 'z.csv');
    const conditioner = new NetworkConditioner({
      conditions: { events: [], zones: { matrix, assign: { node0: 'a', node1: 'b' } } },
      source: '--zones z.csv',
      confirmCommit: true,
    });
    // sidecars that would fail if used: the names are judged first
    const sidecar = new Proxy({}, { get: () => () => Promise.reject(new Error('a helper was started')) });
    const deployment = {
      kind: 'local',
      runId: 'r',
      nodes: ['kv0', 'kv1'].map((nodeId) => ({ nodeId, sidecar })),
    };
    const refusal = await conditioner.onDeploy(deployment as never, 'local').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMeshbenchError(refusal) && refusal.exitCode).toBe(2);
    expect((refusal as Error).message).toBe('zones: node kv0 has no zone (zones given for node0, node1)');
  });
});
