/**
 * The human-readable summary of one benchmark invocation (summary.txt in the run
 * folder). Pure: records in, text out.
 */
import type { SearchOutcome } from '../bench/load-search.js';
import { runsComposeFile, type BenchmarkPlan } from '../bench/plan.js';
import type { BenchmarkRecord } from '../results/record.js';
import { describeProtocol } from '../protocols/registry.js';
import { faultsOf } from '../faults/plugin.js';
import { sweepPlugins } from '../bench/registry.js';
import { formatNumber, formatPercent, renderResultBlock } from './console.js';
import { renderResourcesTable } from './resources-table.js';

export interface RunSummaryInput {
  readonly runId: string;
  readonly plan: BenchmarkPlan;
  readonly records: readonly BenchmarkRecord[];
  readonly searches?: readonly { readonly network: string; readonly outcome: SearchOutcome }[];
  readonly findings?: readonly string[];
  readonly notes?: readonly string[];
  readonly startedAt: string;
  readonly endedAt: string;
}

/**
 * The plan in lines. `deployed`: the networks that ran and their node counts (the records'),
 * for the networks whose size the plan cannot know: a compose file's and the hosts'.
 */
export function describePlan(
  plan: BenchmarkPlan,
  deployed: readonly { readonly network: string; readonly nodes: number }[] = [],
): string[] {
  const lines = [
    `network type:      ${plan.networkType}`,
    `nodes (committee): ${describeNodes(plan, deployed)}`,
    `duration:          ${plan.durationSecs} s per level (warm-up ${plan.warmupSecs} s)`,
    `transaction size:  ${plan.transactionSizeBytes} bytes`,
    `runs per level:    ${plan.runs}`,
    `protocol:          ${describeProtocol(plan.protocol)}, confirm ${plan.confirm}`,
  ];
  for (const network of plan.networks) {
    lines.push(
      plan.loadSearch
        ? `${network.kind} loads:       searched from ${plan.loadSearch.startLoad} up to ${plan.loadSearch.maxLoad} tx/s`
        : `${network.kind} loads:${' '.repeat(Math.max(1, 12 - network.kind.length))}${network.loads.join(', ')} tx/s`,
    );
  }
  if (plan.loadSearch) {
    lines.push(
      `load search:       efficiency ≥ ${formatPercent(plan.loadSearch.minEfficiency)} and p99 < ${plan.loadSearch.p99BoundMs} ms`,
    );
  }
  const faults = faultsOf(plan);
  lines.push(
    plan.scenario
      ? `scenario:          ${plan.scenario.source} (${plan.scenario.events.length} event${plan.scenario.events.length === 1 ? '' : 's'})`
      : faults.faults === 0
        ? 'faults:            none'
        : faults.crashRecovery
          ? `faults:            up to ${faults.faults} down at once, a crash and restart every ${faults.crashIntervalSecs} s`
          : `faults:            ${faults.faults} node${faults.faults === 1 ? '' : 's'} crashed when the measured window starts`,
  );
  for (const plugin of sweepPlugins()) {
    const section = plan.plugins?.[plugin.name];
    if (section === undefined || !plugin.describe) continue;
    for (const [label, value] of plugin.describe(section, plan))
      lines.push(`${`${label}:`.padEnd(19)}${value}`);
  }
  lines.push(
    `network lifecycle: ${plan.freshNetwork ? 'fresh network per level' : 'one network per type'}, ${plan.cleanup ? (plan.cleanupThorough ? 'thorough cleanup' : 'cleanup') : 'left running'}`,
  );
  return lines;
}

/** How many nodes, per kind of network: a generated local network's committee, else what gave them. */
function describeNodes(
  plan: BenchmarkPlan,
  deployed: readonly { readonly network: string; readonly nodes: number }[],
): string {
  if (plan.networkType === 'endpoints') return 'attached endpoints';
  const kinds = plan.networks.map((network) => network.kind);
  const described = kinds.map((kind) => {
    const fromCompose = runsComposeFile(plan, kind);
    if (kind === 'local' && !fromCompose) return (plan.committees ?? [plan.committee]).join(', ');
    const given = fromCompose
      ? 'as the compose file gives'
      : plan.nodesPerHost === undefined
        ? 'as the hosts give'
        : `${plan.nodesPerHost} per host`;
    const counts = [...new Set(deployed.filter((run) => run.network === kind).map((run) => run.nodes))];
    return counts.length === 0 ? given : `${counts.join(', ')} (${given})`;
  });
  return kinds.length === 1
    ? (described[0] as string)
    : kinds.map((kind, index) => `${kind} ${described[index]}`).join('; ');
}

export function renderRunSummary(input: RunSummaryInput): string {
  const lines: string[] = [
    `meshbench benchmark ${input.runId}`,
    `started ${input.startedAt}, ended ${input.endedAt}`,
    '',
    'Plan',
    ...describePlan(
      input.plan,
      input.records.map((record) => ({ network: record.network_type, nodes: record.parameters.nodes })),
    ).map((line) => `  ${line}`),
    '',
  ];
  const environment = input.records[0]?.environment;
  if (environment) {
    const host = environment.host as {
      hostname?: string;
      cpus?: number;
      memory_bytes?: number;
      node_version?: string;
    };
    lines.push('Environment');
    lines.push(`  meshbench ${environment.tool_version}, Node.js ${host.node_version ?? '?'}`);
    lines.push(
      `  host ${host.hostname ?? '?'}: ${host.cpus ?? '?'} CPUs, ${formatNumber((host.memory_bytes ?? 0) / 2 ** 30, 1)} GiB`,
    );
    lines.push(`  node image ${environment.node_image_id ?? 'unknown'}`);
    lines.push('');
  }
  lines.push('Results');
  if (input.records.length === 0) lines.push('  (no load level completed)');
  for (const record of input.records) {
    lines.push(renderResultBlock(record));
    const overhead = record.runs
      .map(
        (run) =>
          `${formatNumber(run.timing.orchestratorMs / 1000, 2)} s (+ ${formatNumber(run.timing.generatorTailMs / 1000, 2)} s generator tail)`,
      )
      .join(', ');
    const settle = record.runs
      .map((run) =>
        run.settle.rule === 'pause'
          ? `${formatNumber(run.settle.settleMs / 1000, 2)} s (fixed pause: no backlog reported)`
          : run.settle.polled
            ? `${formatNumber(run.settle.settleMs / 1000, 2)} s${run.settle.drained ? '' : ' (did not drain)'}${run.settle.rule === 'drain+pause' ? ' (and a fixed pause for nodes without a backlog)' : ''}`
            : `skipped`,
      )
      .join(', ');
    lines.push(`  Settle:              ${settle}`);
    lines.push(`  Orchestrator cost:   ${overhead}`);
    lines.push(...renderResourcesTable(record));
    lines.push('');
  }
  for (const search of input.searches ?? []) {
    const outcome = search.outcome;
    lines.push(`Saturation search (${search.network})`);
    for (const probe of outcome.probes) {
      lines.push(
        `  ${probe.phase.padEnd(9)} ${String(probe.load).padStart(8)} tx/s  ${probe.pass ? 'pass' : `fail: ${probe.reason}`}`,
      );
    }
    lines.push(
      outcome.bestLoad === undefined
        ? '  no load passed'
        : `  highest passing load: ${outcome.bestLoad} tx/s (stopped: ${outcome.stoppedBecause})`,
    );
    lines.push('');
  }
  if (input.findings && input.findings.length > 0) {
    lines.push('Comparison');
    for (const finding of input.findings) lines.push(`  - ${finding}`);
    lines.push('');
  }
  for (const note of input.notes ?? []) lines.push(`Note: ${note}`);
  return `${lines.join('\n').trimEnd()}\n`;
}
