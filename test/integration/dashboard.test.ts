/**
 * `benchmark --dashboard 0` as a user runs it (bin/benchmark.js, a child process) on a local
 * 2-node refnode network with a network condition and a crash fault in the level, watched in
 * headless Chromium while the level runs: the running level's throughput and latency charts
 * gain points and drawn pixels between two samples, the page asks nothing of any origin but
 * the dashboard's own, logs no error, and at the run's end shows what report.html shows. The
 * event stream, read beside it, carries live latency (a point with p50 and p99), a node's
 * resource sample and the condition's and the fault's bands as they start, all before the
 * level's record. Afterwards nothing listens on the port and no container of the run is left.
 * Then `local-network --dashboard`: the same stream for its one level, ending as its report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_LABEL } from '../../src/common/labels.js';
import { parseSse } from '../../src/report/dashboard/sse.js';
import { createDocker } from '../../src/testbed/local/docker-engine.js';
import { canvasInk, openReport, type OpenedReport } from '../support/report-browser.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LEVEL_SECS = 10;
const CHART = '[data-chart="throughput"][data-level="local-1"]';

let child: ChildProcess | undefined;
let dir: string | undefined;
const opened: OpenedReport[] = [];

afterAll(async () => {
  // A failed test must not leave the run going: Ctrl-C lets it remove its network.
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((done) => child?.once('close', done));
  }
  for (const page of opened) await page.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  // Its network's removal may take a while on a busy machine: the hook waits for it.
}, 180_000);

/**
 * Polls an expression in the page until it is true. Not page.waitForFunction: its string
 * predicates are compiled in the page, which the report's policy (no 'unsafe-eval') forbids.
 */
let output = '';

async function waitFor(page: OpenedReport['page'], expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline)
      throw new Error(
        `not true within ${timeoutMs} ms: ${expression}; the run said:\n${output.slice(-3000)}`,
      );
    await new Promise((done) => setTimeout(done, 200));
  }
}

function sample(page: OpenedReport['page']): Promise<{ points: number; drawn: number; latency: number }> {
  return Promise.all([
    page.evaluate<string>(`document.querySelector('${CHART}').dataset.points`),
    canvasInk(page),
  ]).then(([points, ink]) => ({
    points: Number(points),
    drawn: ink.find((canvas) => canvas.chart === 'throughput local-1')?.drawn ?? 0,
    latency: ink.find((canvas) => canvas.chart === 'latency local-1')?.drawn ?? 0,
  }));
}

/** The event stream as a script reads it: every event in order, until the server ends it. */
function readStream(url: string): { text: () => string; ended: Promise<void> } {
  let text = '';
  const ended = new Promise<void>((done, fail) => {
    get(url, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('close', () => done());
    }).on('error', fail);
  });
  return { text: () => text, ended };
}

/**
 * Starts a command (bin/<command>.js) with --dashboard 0, as a user would, and waits for the
 * URL it prints once on stderr before anything is deployed. Everything it prints also goes to
 * `output` (for failure messages).
 */
async function startWithDashboard(
  command: 'benchmark' | 'local-network',
  args: readonly string[],
): Promise<{ stdout: () => string; stderr: () => string; exited: Promise<number | null>; url: string }> {
  const started = spawn(process.execPath, [join(ROOT, 'bin', `${command}.js`), ...args, '--dashboard', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  let stdout = '';
  let stderr = '';
  started.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  started.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => started.once('close', (code) => done(code)));
  const pattern = new RegExp(`${command}: dashboard: (http://127\\.0\\.0\\.1:\\d+/) \\(live`);
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no dashboard line: ${stderr}`)), 60_000);
    const check = () => {
      const match = pattern.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        done(match[1]);
      }
    };
    started.stderr?.on('data', check);
    check();
  });
  return { stdout: () => stdout, stderr: () => stderr, exited, url };
}

describe('benchmark --dashboard: the live page in Chromium', () => {
  it('grows while the level runs and ends as report.html', async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbench-dashboard-it-'));
    // node0's links are delayed 20 ms from 2 s to 4 s; node1 crashes at 5 s and is restarted at 7 s.
    const scenario = join(dir, 'crash.yaml');
    await writeFile(
      scenario,
      'events:\n  - { from: 2s, to: 4s, action: delay, nodes: [node0], delay: 20ms }\n  - { from: 5s, to: 7s, action: crash, nodes: [node1] }\n',
    );
    const run = await startWithDashboard('benchmark', [
      '--network-type',
      'local',
      '--committee',
      '2',
      '--loads',
      '40',
      '--duration',
      String(LEVEL_SECS),
      '--warmup',
      '1',
      '--scenario',
      scenario,
      '--output-dir',
      dir,
      '--cleanup',
      '--startup-wait',
      '120',
    ]);
    const { url, exited } = run;
    expect(run.stderr().match(/benchmark: dashboard:/g)).toHaveLength(1);
    const origin = url.replace(/\/$/, '');
    const stream = readStream(`${origin}/events`);

    const live = await openReport(url, undefined, { allowOrigin: origin });
    opened.push(live);
    expect(await live.page.evaluate<string>('document.body.dataset.live')).toBe('/events');
    // The running level appears once the network is up; then a point a second.
    await waitFor(live.page, `Number(document.querySelector('${CHART}')?.dataset.points) >= 2`, 200_000);
    const first = await sample(live.page);
    await live.page.screenshot({ path: join(dir, 'live-1.png') });
    await waitFor(
      live.page,
      `Number(document.querySelector('${CHART}')?.dataset.points) >= ${first.points + 3}`,
      30_000,
    );
    const second = await sample(live.page);
    await live.page.screenshot({ path: join(dir, 'live-2.png') });
    expect(second.points).toBeGreaterThan(first.points);
    expect(second.drawn, `drawn pixels ${first.drawn} then ${second.drawn}`).toBeGreaterThan(first.drawn);
    expect(second.latency, `latency pixels ${first.latency} then ${second.latency}`).toBeGreaterThan(
      first.latency,
    );

    // The run's end: the last event makes the page the report, and the process exits.
    expect(await exited).toBe(0);
    await stream.ended;
    // Live, in the stream's order: latency, resources and the fault's start came before the record.
    const events = parseSse(stream.text()).map((event) => ({
      event: event.event,
      data: JSON.parse(event.data) as Record<string, unknown>,
    }));
    const recordAt = events.findIndex(
      (event) =>
        event.event === 'snapshot' &&
        ((event.data['model'] as { summary: { key: string }[] }).summary ?? []).some(
          (row) => row.key === 'local-1',
        ),
    );
    const timedAt = events.findIndex(
      (event) =>
        event.event === 'point' &&
        typeof event.data['p50'] === 'number' &&
        typeof event.data['p99'] === 'number',
    );
    // A resource sample: its own event, or (a node's first) inside a snapshot of the running level.
    const sampledAt = events.findIndex(
      (event) =>
        event.event === 'resources' ||
        (event.event === 'snapshot' &&
          (
            event.data['model'] as { levels: { key: string; untilSecs?: number; resources?: unknown }[] }
          ).levels.some(
            (level) =>
              level.key === 'local-1' && level.untilSecs !== undefined && level.resources !== undefined,
          )),
    );
    const faultAt = events.findIndex(
      (event) =>
        event.event === 'band' &&
        event.data['kind'] === 'fault' &&
        event.data['toSecs'] === null &&
        event.data['label'] === 'kill node1',
    );
    // The network condition's window, published by the conditioner as it opens.
    const conditionAt = events.findIndex(
      (event) =>
        event.event === 'band' && event.data['kind'] === 'condition' && event.data['toSecs'] === null,
    );
    const order = events.map((event) => event.event).join(' ');
    expect(recordAt, order).toBeGreaterThan(0);
    expect(timedAt, order).toBeGreaterThanOrEqual(0);
    expect(timedAt, order).toBeLessThan(recordAt);
    expect(sampledAt, order).toBeGreaterThanOrEqual(0);
    expect(sampledAt, order).toBeLessThan(recordAt);
    expect(events.some((event) => event.event === 'resources')).toBe(true);
    expect(faultAt, order).toBeGreaterThanOrEqual(0);
    expect(faultAt, order).toBeLessThan(recordAt);
    expect(conditionAt, order).toBeGreaterThanOrEqual(0);
    expect(conditionAt, order).toBeLessThan(recordAt);
    expect(events.at(-1)?.event).toBe('final');
    await waitFor(live.page, `document.body.dataset.live === 'ended'`, 10_000);
    expect(live.errors).toEqual([]);
    expect(live.blockedRequests).toEqual([]);
    await expect(fetch(url)).rejects.toThrow();

    const stdout = run.stdout();
    const runDir = /results go to (\S+)/.exec(stdout)?.[1];
    expect(runDir, stdout).toBeDefined();
    const file = await openReport(join(runDir as string, 'report.html'));
    opened.push(file);
    const mainText = "document.querySelector('main').innerText";
    const charts =
      "[...document.querySelectorAll('[data-chart]')].map((e) => e.dataset.chart + ' ' + (e.dataset.level || '') + ' ' + e.dataset.points).join('|')";
    expect(await live.page.evaluate<string>(mainText)).toBe(await file.page.evaluate<string>(mainText));
    expect(await live.page.evaluate<string>(charts)).toBe(await file.page.evaluate<string>(charts));

    const runId = /benchmark (\S+): results go to/.exec(stdout)?.[1] as string;
    const left = await createDocker().listContainers({
      all: true,
      filters: { label: [`${RUN_LABEL}=${runId}`] },
    });
    expect(left).toEqual([]);
  }, 420_000);

  it('local-network --dashboard: the live stream of its one level, ending as its report.html', async () => {
    const out = await mkdtemp(join(tmpdir(), 'meshbench-dashboard-net-'));
    try {
      // 300 tx at 30 tx/s: a 10 s level.
      const run = await startWithDashboard('local-network', [
        '--committee',
        '2',
        '--num-transactions',
        '300',
        '--transaction-rate',
        '30',
        '--output',
        out,
        '--cleanup',
        '--startup-wait',
        '120',
      ]);
      const { url } = run;
      const stream = readStream(`${url}events`);
      expect(await run.exited, output).toBe(0);
      await stream.ended;
      const events = parseSse(stream.text());
      const names = events.map((event) => event.event);
      // Points a second while the level ran, with latency once txs completed; the report last.
      const points = events
        .filter((event) => event.event === 'point')
        .map((event) => JSON.parse(event.data) as { p50: number | null; sent: number });
      expect(points.length, names.join(' ')).toBeGreaterThanOrEqual(5);
      expect(points.some((point) => typeof point.p50 === 'number' && point.sent > 0)).toBe(true);
      expect(names.at(-1)).toBe('final');
      const final = JSON.parse(events.at(-1)?.data ?? '{}') as { main: string };
      // The last page is the run folder's report.html (its main part, as rendered).
      const runDir = /result: (\S+)\/local-benchmark-1\.json/.exec(run.stdout())?.[1];
      expect(runDir, run.stdout()).toBeDefined();
      const html = await readFile(join(runDir as string, 'report.html'), 'utf8');
      expect(html).toContain(final.main);
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
