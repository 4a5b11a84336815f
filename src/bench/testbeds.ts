/**
 * The real testbeds for `benchmark`: the local one on this machine's Docker engine
 * (a generated committee, or the user's compose file) and the remote ones over SSH
 * (./remote-testbeds.ts, loaded when a plan has a remote network: SSH, the hosts file's
 * YAML and the swarm engine stay off a local run's start-up path).
 * The CLI passes `createTestbed` to runBenchmark; tests may pass their own.
 */
import { LocalTestbed } from '../testbed/local/local-testbed.js';
import type { Testbed } from '../testbed/testbed.js';
import type { BenchmarkPlan, NetworkKind } from './plan.js';

export interface TestbedFactoryOptions {
  /** Deploy-phase lines (per host for remote). */
  readonly log?: (line: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What a testbed gets from the sweep for one network. */
export interface TestbedContext {
  log: (line: string) => void;
  nodeEnvironment?: Readonly<Record<string, string>>;
}

export function testbedFactory(
  options: TestbedFactoryOptions = {},
): (kind: NetworkKind, plan: BenchmarkPlan, context?: TestbedContext) => Promise<Testbed> {
  return async (kind, plan, context) => {
    const log = context?.log ?? options.log ?? (() => undefined);
    if (kind === 'local') {
      return new LocalTestbed({
        ...(plan.dockerComposePaths
          ? { composePath: plan.dockerComposePaths }
          : { committee: plan.committee }),
        nodeAccess: plan.nodeAccess,
        ...(plan.topology && !plan.dockerComposePaths ? { topology: plan.topology } : {}),
        ...(plan.system && !plan.dockerComposePaths ? { system: plan.system } : {}),
        ...(context?.nodeEnvironment ? { nodeEnvironment: context.nodeEnvironment } : {}),
        protocol: plan.protocol.kind,
        startupTimeoutMs: plan.startupWaitSecs * 1000,
        log: (line) => log(`[local] ${line}`),
        ...(options.env ? { env: options.env } : {}),
      });
    }
    const { remoteTestbed } = await import('./remote-testbeds.js');
    return remoteTestbed(
      plan,
      { log, ...(context?.nodeEnvironment ? { nodeEnvironment: context.nodeEnvironment } : {}) },
      options,
    );
  };
}
