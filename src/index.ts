/**
 * meshbench's public API for scripts and tests: deploy a testbed, run load
 * against it, get a plain Result back, render or compare reports.
 *
 *   const testbed = new LocalTestbed({ committee: 4 });
 *   await using deployment = await testbed.deploy({});
 *   const result = await runLoad({ endpoints: deployment.endpoints, … });
 */
export type {
  Deployment,
  DestroyOptions,
  Endpoint,
  NodeHandle,
  NodeStats,
  Testbed,
  TestbedMaintenance,
  ContainerStatus,
  ContainerLog,
  RemovalSummary,
} from './testbed/testbed.js';
export { LocalTestbed, type LocalTestbedOptions } from './testbed/local/local-testbed.js';
export { listLocalRuns, removeRun } from './testbed/local/teardown.js';
export { LocalMaintenance } from './testbed/local/maintenance.js';
export {
  RemoteTestbed,
  RemoteMaintenance,
  downRemote,
  statusRemote,
  logsRemote,
  type RemoteTestbedOptions,
} from './testbed/remote/remote-testbed.js';
export { loadHosts, loadHostsFile, hostsFromVariables, type RemoteHost } from './testbed/remote/hosts.js';
export { sandboxUp, sandboxDown, readSandboxState } from './testbed/sandbox/sandbox.js';

export { runLoad, probeEndpoints } from './load/index.js';
// For protocol modules (`--protocol ./my-protocol.mjs`, docs/protocols.md) and scripts.
export type {
  Protocol,
  ProtocolDefinition,
  ReplyOutcome,
  RequestTemplate,
  CommitSource,
  BacklogProbe,
  BacklogReading,
  TransactionWatcher,
} from './protocols/protocol.js';
export type { ProtocolSetting, SettingValue } from './protocols/settings.js';
export type { Transaction } from './protocols/transaction.js';
export { registerProtocol, loadProtocolModule } from './protocols/registry.js';
export type * from './load/types.js';

export { buildBenchmarkPlan, type BenchmarkPlan, type BenchmarkInput } from './bench/plan.js';
export { runSweep, type SweepDeps, type SweepOutcome } from './bench/sweep.js';
export type { SweepObserver, LevelContext, LevelEnd, LevelStart } from './bench/observer.js';
export { runBenchmark, type BenchmarkDeps, type BenchmarkOutcome } from './results/run.js';
export { buildBenchmarkRecord, buildNetworkRecord } from './results/record.js';
export type { BenchmarkRecord } from './results/schema.js';
export { compareRecords, renderComparisonText } from './report/compare.js';
export { renderResultBlock, renderResultsTable } from './report/console.js';
export { resultJsonSchema } from './results/schema.js';
export { resultValidator } from './results/validate.js';
export { AttachedTestbed } from './testbed/attached/attached-testbed.js';

export { MeshbenchError, formatError, type ErrorCode } from './common/errors.js';
export { newRunId } from './common/run-id.js';
export { RUN_LABEL } from './common/labels.js';
