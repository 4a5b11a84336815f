/**
 * The `resources` block from what the monitor (./monitor.ts) gathered during a run: each
 * node's and host's summaries over the measured window (after the warm-up), the generator's
 * own figures and whether it may be the bottleneck, the environment check with the remote
 * hosts' load, and where the figures came from.
 */
import type { Endpoint } from '../../protocols/endpoint.js';
import type { HostHandle, NodeHandle } from '../../testbed/testbed.js';
import type { ScrapedEndpoint } from './endpoint-source.js';
import { generatorBottleneck, summarize, type HostReading } from './figures.js';
import type {
  GeneratorSample,
  HostResources,
  HostSample,
  NodeResources,
  NodeSample,
  QuietCheck,
  ResourcesBlock,
} from './schema.js';

/** How the nodes without a stats stream (attach mode) are read, decided at each deploy. */
export type EndpointPlan =
  | { readonly kind: 'scrape'; readonly endpoints: readonly Endpoint[]; readonly problems: readonly string[] }
  | { readonly kind: 'query'; readonly endpoints: readonly Endpoint[]; readonly url: string }
  | { readonly kind: 'absent'; readonly reason: string };

/** What a run gathered, as the summary reads it. */
export interface RunGathered {
  readonly warmupS: number;
  readonly nodes: readonly {
    readonly handle: Pick<NodeHandle, 'nodeId'>;
    readonly host: string;
    readonly containerId: string | undefined;
    readonly memoryLimitBytes: number | undefined;
    readonly hostNetwork: boolean;
    readonly series: NodeSample[];
    readonly downS: number[];
  }[];
  readonly hosts: readonly {
    readonly handle: Pick<HostHandle, 'name'>;
    readonly first: HostReading | undefined;
    readonly previous: HostReading | undefined;
    readonly series: HostSample[];
  }[];
  readonly scraped: readonly ScrapedEndpoint[];
  readonly generator: GeneratorSample[];
  readonly errors: Set<string>;
}

export interface SummaryInput {
  readonly state: RunGathered;
  readonly load: { readonly scheduleLag?: { readonly count: number; readonly p99: number } };
  /** The quiet check before the run (absent: not made). */
  readonly environment: QuietCheck | undefined;
  /** With --prometheus-url in attach mode: the endpoints' summaries, read after the load. */
  readonly queried: readonly NodeResources[];
  readonly threads: number;
  readonly intervalMs: number;
  readonly endpointPlan: EndpointPlan | undefined;
  readonly warn?: ((line: string) => void) | undefined;
}

export function resourcesBlock(input: SummaryInput): ResourcesBlock {
  const { state, load, environment, queried } = input;
  const measured = <T extends { t_s: number }>(series: readonly T[]): T[] => {
    const kept = series.filter((sample) => sample.t_s >= state.warmupS);
    return kept.length > 0 ? kept : [...series];
  };
  const nodes: NodeResources[] = [
    ...state.nodes.map((track) =>
      nodeResources(
        {
          nodeId: track.handle.nodeId,
          host: track.host,
          source: 'docker_stats',
          containerId: track.containerId,
          memoryLimitBytes: track.memoryLimitBytes,
          hostNetwork: track.hostNetwork,
          series: track.series,
          downS: track.downS,
        },
        state.warmupS,
      ),
    ),
    ...state.scraped.map((track) => {
      for (const problem of track.problems()) state.errors.add(problem);
      return nodeResources(
        {
          nodeId: track.endpoint.nodeId,
          host: track.endpoint.host ?? 'attached',
          source: 'prometheus_scrape',
          metricsUrl: track.url,
          series: track.series,
          downS: track.downS,
        },
        state.warmupS,
      );
    }),
    ...queried,
  ];
  const hosts: HostResources[] = state.hosts.flatMap((track) => {
    const first = track.first;
    const last = track.previous;
    if (!first || !last) {
      state.errors.add(`host ${track.handle.name}: no readings`);
      return [];
    }
    const samples = measured(track.series);
    const of = (key: Exclude<keyof HostSample, 't_s'>, digits = 0) =>
      summarize(
        samples.flatMap((sample) => sample[key] ?? []),
        digits,
      );
    const pressured = samples.some((sample) => sample.cpu_pressure_percent !== undefined);
    return [
      {
        host: track.handle.name,
        cpus: last.cpus,
        memory_total_bytes: last.memoryTotalBytes,
        cpu_percent: of('cpu_percent', 2),
        memory_used_bytes: of('memory_used_bytes'),
        load1: of('load1', 2),
        net_rx_bytes_per_s: of('net_rx_bytes_per_s'),
        net_tx_bytes_per_s: of('net_tx_bytes_per_s'),
        ...(pressured ? { cpu_pressure_percent: of('cpu_pressure_percent', 2) } : {}),
        interfaces: Object.fromEntries(
          Object.entries(last.interfaces).flatMap(([name, now]) => {
            const then = first.interfaces[name];
            return then
              ? [[name, { rx_bytes: Math.max(0, now.rx - then.rx), tx_bytes: Math.max(0, now.tx - then.tx) }]]
              : [];
          }),
        ),
        series: track.series,
      },
    ];
  });
  const generatorSamples = measured(state.generator);
  const cpu = summarize(generatorSamples.map((sample) => sample.cpu_percent));
  const lagP99 = load.scheduleLag && load.scheduleLag.count > 0 ? load.scheduleLag.p99 : undefined;
  const reasons = generatorBottleneck({
    cpuPercentMean: cpu.mean,
    threads: input.threads,
    scheduleLagP99Ms: lagP99,
  });
  const remote = state.hosts.flatMap((track) =>
    track.first && track.handle.name !== 'local'
      ? [
          {
            host: track.handle.name,
            cpus: track.first.cpus,
            load1: track.first.load1,
            memory_available_bytes: track.first.memoryAvailableBytes,
            memory_total_bytes: track.first.memoryTotalBytes,
          },
        ]
      : [],
  );
  let quiet = environment;
  if (quiet && remote.length > 0) {
    const busy = remote.filter((host) => host.load1 > host.cpus);
    const reasonsRemote = busy.map(
      (host) => `host ${host.host}: load average ${host.load1} on ${host.cpus} CPUs`,
    );
    if (reasonsRemote.length > 0)
      input.warn?.(`resources: not quiet at the level's start: ${reasonsRemote.join('; ')}`);
    quiet = {
      ...quiet,
      hosts: remote,
      reasons: [...quiet.reasons, ...reasonsRemote],
      quiet: quiet.quiet && reasonsRemote.length === 0,
    };
  }
  const plan = input.endpointPlan;
  const attached = state.nodes.length === 0 && state.hosts.length === 0;
  const absent =
    plan?.kind === 'absent'
      ? plan.reason
      : attached && nodes.length === 0
        ? 'attach mode (--endpoints): no node handles or hosts of ours, so per-node and per-host figures are absent; the generator figures are kept'
        : undefined;
  const source =
    plan?.kind === 'scrape'
      ? "each endpoint's process metrics from its Prometheus page (--endpoint-metrics); this process for the generator"
      : plan?.kind === 'query'
        ? `each endpoint's process metrics from Prometheus by PromQL (--prometheus-url ${plan.url}); this process for the generator`
        : attached
          ? 'this process only'
          : 'docker engine stats stream per node; /proc per host; this process for the generator';
  return {
    interval_ms: input.intervalMs,
    source,
    ...(absent !== undefined ? { absent } : {}),
    nodes,
    hosts,
    generator: {
      threads: Math.max(1, input.threads),
      cpu_percent: cpu,
      event_loop_delay_ms: summarize(generatorSamples.map((sample) => sample.event_loop_delay_p99_ms)),
      ...(lagP99 !== undefined ? { schedule_lag_p99_ms: round2(lagP99) } : {}),
      bottleneck: reasons.length > 0,
      ...(reasons.length > 0 ? { bottleneck_reasons: reasons } : {}),
      series: state.generator,
    },
    ...(quiet ? { environment: quiet } : {}),
    ...(state.errors.size > 0 ? { errors: [...state.errors].slice(0, 20) } : {}),
  };
}

/** One node's summaries over the measured window of its series. */
export function nodeResources(
  track: {
    readonly nodeId: string;
    readonly host: string;
    readonly source: NonNullable<NodeResources['source']>;
    readonly metricsUrl?: string;
    readonly containerId?: string | undefined;
    readonly memoryLimitBytes?: number | undefined;
    readonly hostNetwork?: boolean;
    readonly series: NodeSample[];
    readonly downS: number[];
  },
  warmupS: number,
): NodeResources {
  const kept = track.series.filter((sample) => sample.t_s >= warmupS);
  const up = (kept.length > 0 ? kept : track.series).filter(
    (sample): sample is Extract<NodeSample, { cpu_percent: number }> => !('down' in sample),
  );
  const of = (key: Exclude<keyof (typeof up)[number], 't_s'>, digits = 0) =>
    summarize(
      up.flatMap((sample) => (sample[key] === undefined ? [] : [sample[key]])),
      digits,
    );
  /** A figure the source may lack: absent when no sample has it. */
  const optional = <
    K extends
      'net_rx_bytes_per_s' | 'net_tx_bytes_per_s' | 'block_read_bytes_per_s' | 'block_write_bytes_per_s',
  >(
    key: K,
  ) =>
    track.source === 'docker_stats' || up.some((sample) => sample[key] !== undefined)
      ? { [key]: of(key) }
      : {};
  return {
    node_id: track.nodeId,
    host: track.host,
    ...(track.containerId ? { container_id: track.containerId.slice(0, 12) } : {}),
    source: track.source,
    ...(track.metricsUrl ? { metrics_url: track.metricsUrl } : {}),
    cpu_percent: of('cpu_percent', 2),
    memory_bytes: of('memory_bytes'),
    ...optional('net_rx_bytes_per_s'),
    ...optional('net_tx_bytes_per_s'),
    ...optional('block_read_bytes_per_s'),
    ...optional('block_write_bytes_per_s'),
    ...(track.memoryLimitBytes ? { memory_limit_bytes: track.memoryLimitBytes } : {}),
    ...(track.hostNetwork ? { host_network: true as const } : {}),
    down_s: track.downS,
    series: track.series,
  };
}

export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
