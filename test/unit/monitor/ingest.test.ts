import { afterEach, describe, expect, it } from 'vitest';
import { parseIngest, parseLineProtocol } from '../../../src/monitor/ingest/parse.js';
import { IngestCollector, networkGateway } from '../../../src/monitor/ingest/ingest.js';
import type { IngestLevelContext } from '../../../src/monitor/ingest/ingest.js';

describe('ingest parsing', () => {
  it('takes a JSON point, an array, tags and ts', () => {
    expect(parseIngest('{"name":"sync_ms","value":12.5}', 'application/json')).toEqual({
      points: [{ name: 'sync_ms', value: 12.5 }],
    });
    expect(
      parseIngest(
        '[{"name":"a","value":1,"tags":{"peer":"p1","n":3},"ts":1700000000000},{"name":"b","value":-2}]',
        undefined,
      ),
    ).toEqual({
      points: [
        { name: 'a', value: 1, tags: { peer: 'p1', n: '3' }, tsMs: 1700000000000 },
        { name: 'b', value: -2 },
      ],
    });
  });

  it('refuses bad JSON with one line', () => {
    const error = (body: string) => {
      const parsed = parseIngest(body, 'application/json');
      expect(parsed).toHaveProperty('error');
      const line = (parsed as { error: string }).error;
      expect(line).not.toContain('\n');
      return line;
    };
    expect(error('{"name":"a"')).toMatch(/^not JSON/);
    expect(error('{"name":"a","value":"x"}')).toMatch(/"value" of a must be a finite number/);
    expect(error('{"value":1}')).toMatch(/"name" must be/);
    expect(error('[{"name":"a","value":1},{"name":"b","value":1,"ts":-1}]')).toMatch(/^point 1: "ts" of b/);
    expect(error('{"name":"a","value":1,"extra":2}')).toMatch(/unknown field "extra"/);
    expect(error('{"name":"a","value":1,"tags":[1]}')).toMatch(/"tags" of a must be an object/);
    expect(error('3')).toMatch(/a point is an object/);
    expect(parseIngest('   ', undefined)).toEqual({
      error: 'empty body: send a JSON point, an array of them, or line protocol',
    });
  });

  it('takes line protocol: tags, several fields, integers, booleans, precision', () => {
    const parsed = parseLineProtocol(
      '# comment\nsync,peer=p\\ 1,role=leaf value=3.5,count=7i,ok=t 1700000000000000000\n\ncpu usage=0.25',
    );
    expect(parsed).toEqual({
      points: [
        { name: 'sync', value: 3.5, tags: { peer: 'p 1', role: 'leaf' }, tsMs: 1700000000000 },
        { name: 'sync.count', value: 7, tags: { peer: 'p 1', role: 'leaf' }, tsMs: 1700000000000 },
        { name: 'sync.ok', value: 1, tags: { peer: 'p 1', role: 'leaf' }, tsMs: 1700000000000 },
        { name: 'cpu.usage', value: 0.25 },
      ],
    });
    expect(parseLineProtocol('m value=1 1700000000', 's')).toEqual({
      points: [{ name: 'm', value: 1, tsMs: 1700000000000 }],
    });
    expect(parseLineProtocol('m value="text"')).toEqual({
      error: 'line 1: field value="text" is not a number (strings are not taken)',
    });
    expect(parseLineProtocol('m')).toHaveProperty('error');
    expect(parseLineProtocol('m value=1 12x')).toEqual({
      error: 'line 1: timestamp "12x" is not an integer',
    });
  });
});

let collector: IngestCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

describe('the ingest endpoint', () => {
  it('serves on loopback, aligns points to the level clock, answers 400 with one line, closes at run end', async () => {
    let wall = 1_000_000;
    collector = new IngestCollector({
      address: '127.0.0.1',
      port: 0,
      warn: () => undefined,
      now: () => wall,
    });
    const env = await collector.nodeEnvironment('local');
    const url = env.MESHBENCH_INGEST_URL as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ingest$/);
    expect((await collector.nodeEnvironment('remote')).MESHBENCH_INGEST_URL).toBe(url);

    const blocks: Record<string, unknown> = {};
    const context = {
      elapsedMs: () => 250,
      block: (name: string, data: unknown) => {
        blocks[name] = data;
      },
    } as unknown as IngestLevelContext;
    const level = {};
    // before the level: counted, not recorded
    await fetch(url, { method: 'POST', body: '{"name":"early","value":1}' });
    collector.onLevelStart(level, context); // the load started at wall 999_750
    wall = 1_001_000;
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { name: 'lat', value: 5, tags: { peer: 'a' } },
        { name: 'lat', value: 7, ts: 1_000_250 },
      ]),
    });
    expect(ok.status).toBe(204);
    const lp = await fetch(`${url.replace('/ingest', '/write')}?precision=ms`, {
      method: 'POST',
      body: 'lat value=9 1000750',
    });
    expect(lp.status).toBe(204);
    const bad = await fetch(url, { method: 'POST', body: '{"name":"x","value":"y"}' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('"value" of x must be a finite number (got "y")\n');
    const get = await fetch(url);
    expect(get.status).toBe(405);
    collector.onLoadEnd(level, undefined, context);

    const block = blocks.ingest as {
      points: { name: string; value: number; t_ms: number; from_sender_clock?: boolean }[];
      series: { name: string; count: number; mean: number; min: number; max: number }[];
      requests: number;
      rejected_requests: number;
      errors: string[];
    };
    expect(block.points.map((p) => [p.name, p.value, p.t_ms])).toEqual([
      ['lat', 5, 1250],
      ['lat', 7, 500],
      ['lat', 9, 1000],
    ]);
    expect(block.points[1]?.from_sender_clock).toBe(true);
    expect(block.series).toEqual([{ name: 'lat', count: 3, mean: 7, min: 5, max: 9, last: 9 }]);
    expect(block.requests).toBe(2);
    expect(block.rejected_requests).toBe(1);
    expect(block.errors).toEqual(['"value" of x must be a finite number (got "y")']);
    expect(collector.betweenLevels).toBe(1);

    await collector.onRunEnd();
    await expect(fetch(url, { method: 'POST', body: '{"name":"late","value":1}' })).rejects.toThrow();
  });

  it('without --ingest-address, remote nodes get no URL and one warning', async () => {
    const warnings: string[] = [];
    collector = new IngestCollector({
      port: 0,
      warn: (line) => warnings.push(line),
      bridgeGateway: async () => '127.0.0.1',
      interfaces: () => ({ docker0: [{ family: 'IPv4', address: '10.0.0.9' }] }) as never,
    });
    expect((await collector.nodeEnvironment('local')).MESHBENCH_INGEST_URL).toMatch(
      /^http:\/\/127\.0\.0\.1:/,
    );
    expect(await collector.nodeEnvironment('remote')).toEqual({});
    expect(await collector.nodeEnvironment('remote')).toEqual({});
    expect(warnings).toHaveLength(1);
  });

  it("asks the engine first: its bridge's gateway, else the subnet's first host (docker0 without carrier is not listed)", async () => {
    const subnetOnly = { IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] } };
    expect(networkGateway(subnetOnly)).toBe('172.17.0.1');
    expect(networkGateway({ IPAM: { Config: [{ Subnet: '10.20.30.64/26' }] } })).toBe('10.20.30.65');
    expect(
      networkGateway({ IPAM: { Config: [{ Subnet: '192.168.16.0/20', Gateway: '192.168.16.254' }] } }),
    ).toBe('192.168.16.254');
    expect(networkGateway({ IPAM: { Config: [{ Subnet: 'fd00::/64' }, { Subnet: '172.18.0.0/16' }] } })).toBe(
      '172.18.0.1',
    );
    expect(networkGateway({ IPAM: { Config: null } })).toBeUndefined();
    expect(networkGateway({})).toBeUndefined();
    // The engine's answer wins over the interface list; the list is the fallback when the engine names none.
    collector = new IngestCollector({
      port: 0,
      warn: () => undefined,
      bridgeGateway: async () => networkGateway({ IPAM: { Config: [{ Subnet: '127.0.0.0/8' }] } }),
      interfaces: () => ({}) as never,
    });
    expect((await collector.nodeEnvironment('local')).MESHBENCH_INGEST_URL).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/ingest$/,
    );
  });

  it('names the missing bridge gateway in one line', async () => {
    collector = new IngestCollector({
      port: 0,
      warn: () => undefined,
      interfaces: () => ({}) as never,
      bridgeGateway: async () => undefined,
    });
    await expect(collector.preflight()).rejects.toThrow(
      /names no gateway of its bridge network.*give --ingest-address/,
    );
  });
});
