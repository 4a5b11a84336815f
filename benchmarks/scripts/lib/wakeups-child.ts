/**
 * One round of bench-wakeups.ts, in a process of its own so nothing else runs in it: starts
 * the event-loop sampler named by argv[2], lets it settle for a second, then prints the CPU
 * this process used per second over argv[3] seconds (one JSON line).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [side = 'none', secondsText = '5'] = process.argv.slice(2);
const seconds = Number(secondsText);
/**
 * What the side started, held to the end: a histogram nothing refers to is collected, and its
 * sampling stops with it (a round then cost what `none` does, as two rounds did here).
 */
const held: unknown[] = [];

switch (side) {
  case 'none':
    break;
  case 'prom-client-default': {
    // prom-client's default metrics as a user would collect them: its lag sampler at 10 ms
    const { Registry, collectDefaultMetrics } = await import('prom-client');
    const register = new Registry();
    collectDefaultMetrics({ register });
    held.push(register);
    break;
  }
  case 'exporter': {
    // meshbench's --metrics-port registry (src/monitor/prometheus/exporter.ts)
    const { GeneratorMetrics } = await import('../../../src/monitor/prometheus/exporter.js');
    held.push(new GeneratorMetrics());
    break;
  }
  case 'resources': {
    // the resource monitor's sampler of the orchestrator's own loop (src/monitor/resources/monitor.ts),
    // at the default --monitor-interval of 1000 ms
    const { loopSampleMs } = await import('../../../src/monitor/resources/monitor.js');
    const histogram = monitorEventLoopDelay({ resolution: loopSampleMs(1000) });
    histogram.enable();
    held.push(histogram);
    break;
  }
  case 'resources-20ms': {
    // the same sampler at 20 ms, as it was before issue 31 (and still is at --monitor-interval 200 or less)
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    held.push(histogram);
    break;
  }
  default:
    throw new Error(`unknown side ${side}`);
}

await new Promise((resolve) => setTimeout(resolve, 1000));
const before = process.cpuUsage();
const startedMs = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const used = process.cpuUsage(before);
const elapsedSecs = (performance.now() - startedMs) / 1000;
process.stdout.write(
  `${JSON.stringify({ side, cpuMsPerSecond: (used.user + used.system) / 1000 / elapsedSecs, held: held.length })}\n`,
);
process.exit(0);
