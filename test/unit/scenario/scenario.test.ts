import { describe, expect, it } from 'vitest';
import {
  checkTimeline,
  crashRecoveryTicks,
  expandScenario,
  maxDown,
  parseDuration,
  parseScenario,
} from '../../../src/scenario/scenario.js';

const nodes = ['node0', 'node1', 'node2', 'node3'];

describe('scenario files', () => {
  it('reads point, window and crash-recovery events with times in s, ms, m or plain seconds', () => {
    const scenario = parseScenario(
      [
        'version: 1',
        'name: crash and pause',
        'events:',
        '  - { at: 30s, action: crash, nodes: [node2] }',
        '  - { at: 45000ms, action: restart, nodes: node2 }',
        '  - { from: 1m, to: 70, action: pause, nodes: [node1] }',
        '  - { every: 20s, action: crash-recovery, faults: 1, from: 80s }',
      ].join('\n'),
      's.yaml',
    );
    expect(scenario.events).toEqual([
      { kind: 'point', atMs: 30_000, action: 'kill', nodes: ['node2'] },
      { kind: 'point', atMs: 45_000, action: 'restart', nodes: ['node2'] },
      { kind: 'window', fromMs: 60_000, toMs: 70_000, action: 'pause', nodes: ['node1'] },
      { kind: 'crash-recovery', everyMs: 20_000, faults: 1, fromMs: 80_000 },
    ]);
    expect(scenario.lines).toEqual([4, 5, 6, 7]);
    expect(parseDuration('1.5s')).toBe(1500);
  });

  it.each([
    [
      'events:\n  - { at: 30s, action: explode, nodes: [node2] }',
      /s.yaml: line 2: events\[0\]\.action: must be one of crash, kill/,
    ],
    [
      'events:\n  - at: 30s\n    action: crash\n    nodes: [node2]\n    colour: red',
      /line 2: events\[0\]: unknown field "colour"/,
    ],
    ['events:\n  - { at: soon, action: crash, nodes: [node2] }', /line 2: events\[0\]\.at: a time like 30s/],
    ['events:\n  - { action: crash, nodes: [node2] }', /line 2: events\[0\]: needs a time/],
    [
      'events:\n  - { from: 20s, to: 10s, action: pause, nodes: n }',
      /line 2: events\[0\]\.to: must be after from/,
    ],
    ['events: [ {at: 1', /s.yaml: not valid YAML or JSON/],
    ['- 1\n- 2', /not a scenario/],
    ['version: 2\nevents: []', /version/],
  ])('refuses %j in one line naming the line and the field', (text, message) => {
    expect(() => parseScenario(text, 's.yaml')).toThrow(message);
  });
});

describe('the timeline', () => {
  it("follows Mysten's crash-recovery cycle: groups of floor(f/3) go down, then all come back together", () => {
    expect([...crashRecoveryTicks(1, ['a'])]).toEqual([
      { action: 'kill', nodes: ['a'] },
      { action: 'restart', nodes: ['a'] },
    ]);
    expect(
      [...crashRecoveryTicks(3, ['a', 'b', 'c'])].map((t) => `${t.action} ${t.nodes.join('+')}`),
    ).toEqual(['kill a', 'kill b', 'kill c', 'restart a+b+c']);
    const steps = expandScenario(
      { events: [{ kind: 'crash-recovery', everyMs: 10_000, faults: 1, fromMs: 0 }] },
      nodes,
      65_000,
    );
    expect(steps.map((s) => `${s.atMs / 1000} ${s.action} ${s.nodes.join(',')}`)).toEqual([
      '10 kill node3',
      '20 restart node3',
      '30 kill node3',
      '40 restart node3',
      '50 kill node3',
      '60 restart node3',
    ]);
    expect(maxDown(steps)).toBe(1);
  });

  it('refuses a node that does not exist, an event after the level, and a restart of a node that is up', () => {
    const scenario = parseScenario('events:\n  - { at: 10s, action: crash, nodes: [node9] }', 's.yaml');
    expect(() => checkTimeline(scenario, expandScenario(scenario, nodes, 60_000), nodes, 60_000)).toThrow(
      /s.yaml: line 2: events\[0\]: no node "node9" in this network \(nodes: node0, node1, node2, node3\)/,
    );
    const late = parseScenario('events:\n  - { at: 90s, action: crash, nodes: [node1] }', 's.yaml');
    expect(() => checkTimeline(late, expandScenario(late, nodes, 60_000), nodes, 60_000)).toThrow(
      /events\[0\]: kill at 90 s is at or after the level's end \(60 s\)/,
    );
    const restart = parseScenario(
      'events:\n  - { at: 5s, action: pause, nodes: [node1] }\n  - { at: 10s, action: restart, nodes: [node1] }',
      's.yaml',
    );
    expect(() => checkTimeline(restart, expandScenario(restart, nodes, 60_000), nodes, 60_000)).toThrow(
      /line 3: events\[1\]: restart node1 at 10 s, but node1 is paused then/,
    );
    const fine = parseScenario(
      'events:\n  - { from: 5s, to: 10s, action: crash, nodes: [node1, node2] }',
      's.yaml',
    );
    const steps = expandScenario(fine, nodes, 60_000);
    expect(() => checkTimeline(fine, steps, nodes, 60_000)).not.toThrow();
    expect(maxDown(steps)).toBe(2);
  });

  it('refuses mobility positions that miss a node or name one the network does not have, before any deploy', () => {
    const placed = (positions: string) =>
      parseScenario(`events: []\nmobility:\n  range: 100\n  positions: { ${positions} }\n`, 'm.yaml');
    const three = placed('node0: [0, 0], node1: [50, 0], node2: [0, 50]');
    expect(() => checkTimeline(three, [], nodes, 60_000)).toThrow(
      'm.yaml: mobility.positions: node node3 has no position',
    );
    const typo = placed('node0: [0, 0], node1: [50, 0], node2: [0, 50], node3: [9, 9], nod4: [1, 1]');
    expect(() => checkTimeline(typo, [], nodes, 60_000)).toThrow(
      'm.yaml: mobility.positions: no node nod4 in this network (nodes: node0, node1, node2, node3)',
    );
    // A compose file's nodes are known only once it is up: the conditioner asks then.
    expect(() => checkTimeline(typo, [], undefined, 60_000)).not.toThrow();
    const all = placed('node0: [0, 0], node1: [50, 0], node2: [0, 50], node3: [9, 9]');
    expect(() => checkTimeline(all, [], nodes, 60_000)).not.toThrow();
  });
});

describe('the scenario format as files', () => {
  it('docs/scenario.schema.json is what src/scenario/scenario.ts generates (npm run schema writes it)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { scenarioJsonSchema } = await import('../../../src/scenario/scenario.js');
    const docs = JSON.parse(await readFile('docs/scenario.schema.json', 'utf8'));
    expect(docs, 'docs/scenario.schema.json is stale: run npm run schema').toEqual(scenarioJsonSchema());
  });

  it('every example in examples/scenarios/ validates against the JSON Schema and parses', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const { Ajv } = await import('ajv');
    const validate = new Ajv({ strict: false }).compile(
      JSON.parse(await readFile('docs/scenario.schema.json', 'utf8')),
    );
    const files = (await readdir('examples/scenarios')).filter((name) => name.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const name of files) {
      const text = await readFile(`examples/scenarios/${name}`, 'utf8');
      expect(validate(parse(text)), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      const scenario = parseScenario(text, name);
      // A mobility scenario places every node of its network, so it runs on those nodes.
      const ids = scenario.mobility
        ? Object.keys(scenario.mobility.positions)
        : Array.from({ length: 7 }, (_, index) => `node${index}`);
      expect(() => checkTimeline(scenario, expandScenario(scenario, ids, 90_000), ids, 90_000)).not.toThrow();
    }
    // The schema refuses what the parser refuses.
    expect(validate({ events: [{ at: '30s', action: 'explode', nodes: ['node1'] }] })).toBe(false);
  });
});
