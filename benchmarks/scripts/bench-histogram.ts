/**
 * `npm run bench:histogram` — what recording a latency costs (issue 31): the generator records
 * six values a sent and answered tx (schedule lag, corrected and uncorrected ack, the node's,
 * the second's, the live interval's). Sides, alternating rounds in this one process:
 *   library  hdr-histogram-js's Int32Histogram as built by its `build()` (a Math.log2 and two
 *            Math.pow per value);
 *   fast     src/measure/histogram.ts's FastIndexHistogram (the same slots by bit arithmetic),
 *            what every histogram of the generator is.
 * Each round records `--values` latencies drawn like a loaded system's (µs, log-normal around
 * 1 ms, a tail past 100 ms) into four histograms of 3 significant digits and two of 2, fresh each
 * round; the figure is nanoseconds per recorded value. Writes benchmarks/results/histogram-<timestamp>.json.
 */
import { Int32Histogram } from 'hdr-histogram-js';
import { FastIndexHistogram } from '../../src/measure/histogram.js';
import { numberFlag } from './lib/flags.js';
import { runBench } from './lib/harness.js';

interface Args {
  readonly values: number;
}

interface Round {
  readonly nsPerValue: number;
}

const SIDES = ['library', 'fast'] as const;
const HIGHEST_US = 3_600_000_000;

/** Latencies in µs: log-normal (median ~1 ms), a pseudo-random but fixed sequence. */
function latencies(count: number): Float64Array {
  const out = new Float64Array(count);
  let seed = 42;
  const uniform = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed + 1) / (2 ** 31 + 1);
  };
  for (let i = 0; i < count; i++) {
    const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    out[i] = Math.round(Math.exp(Math.log(1000) + 1.2 * normal));
  }
  return out;
}

const sample = latencies(1 << 16);

function oneRound(side: (typeof SIDES)[number], values: number): Round {
  const make = (digits: number) => {
    const histogram =
      side === 'fast'
        ? new FastIndexHistogram(1, HIGHEST_US, digits)
        : new Int32Histogram(1, HIGHEST_US, digits);
    histogram.autoResize = true;
    return histogram;
  };
  const histograms = [make(3), make(3), make(3), make(3), make(2), make(2)];
  const perValue = Math.ceil(values / histograms.length);
  const start = process.hrtime.bigint();
  for (let i = 0; i < perValue; i++) {
    const value = sample[i & 0xffff] as number;
    for (const histogram of histograms) histogram.recordValue(value);
  }
  const ns = Number(process.hrtime.bigint() - start);
  return { nsPerValue: Math.round((ns / (perValue * histograms.length)) * 100) / 100 };
}

await runBench({
  usage: {
    name: 'bench:histogram',
    summary:
      "Nanoseconds per recorded latency: hdr-histogram-js's own histogram against the generator's\n" +
      '(the same slots by bit arithmetic), alternating rounds in one process.',
    notes: ['Writes benchmarks/results/histogram-<timestamp>.json.'],
  },
  flags: {
    values: { type: 'string', valueName: 'N', default: '6000000', description: 'values recorded per round' },
  },
  defaultPairs: 5,
  args: (values): Args => ({ values: numberFlag('values', values.values, { integer: true, min: 1000 }) }),
  file: 'histogram',
  sides: [...SIDES],
  round: async (side, { args }) => oneRound(side as (typeof SIDES)[number], args.values),
  describe: (r) => `${r.nsPerValue.toFixed(1)} ns per value`,
  figures: { nsPerValue: (r) => r.nsPerValue },
  extra: (_bySide, args) => ({ settings: args }),
});
