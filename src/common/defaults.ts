/**
 * Every default setting of the commands and the generator, spelled once: the benchmark
 * plan (src/bench/plan.ts) applies these, the --help texts show them, and the config
 * pipeline (src/cli/config-pipeline.ts) reports a setting as "default" when nothing
 * overrode it. Plain values only: the layers above give them meaning.
 */

/** The reference node image the local and remote testbeds start unless told otherwise. */
export const REFNODE_IMAGE_NAME = 'meshbench/refnode';
export const REFNODE_IMAGE = `${REFNODE_IMAGE_NAME}:latest`;
/** The sidecar images meshbench ships beside nodes; MESHBENCH_<NAME>_IMAGE names another tag (tests). */
export const NETHELPER_IMAGE = process.env.MESHBENCH_NETHELPER_IMAGE ?? 'meshbench/nethelper:latest';
export const LOADCLIENT_IMAGE = process.env.MESHBENCH_LOADCLIENT_IMAGE ?? 'meshbench/loadclient:latest';
/** The etcd examples' image (systems/etcd/docker-compose.yml), etcd from this machine's Debian packages. */
export const ETCD_IMAGE = process.env.MESHBENCH_ETCD_IMAGE ?? 'meshbench/etcd:3.4';
/** The P2P systems under test (systems/libp2p-gossipsub, systems/crdt-sync), built from npm packages. */
export const LIBP2P_IMAGE = process.env.MESHBENCH_LIBP2P_IMAGE ?? 'meshbench/libp2p-gossipsub:latest';
export const CRDT_IMAGE = process.env.MESHBENCH_CRDT_IMAGE ?? 'meshbench/crdt-sync:latest';

/** Prefix of every key the etcd protocol writes (--etcd-key-prefix). */
export const ETCD_KEY_PREFIX = 'meshbench/';

/** Largest transaction the generator builds (--transaction-size): 16 MiB. */
export const MAX_TRANSACTION_SIZE_BYTES = 16 * 1024 * 1024;

/** The load generator's own settings (src/load/index.ts: runLoad). */
export const LOAD_DEFAULTS = {
  requestTimeoutMs: 10_000,
  commitTimeoutMs: 30_000,
  connectionsPerEndpoint: 64,
  pipelining: 1,
  maxInFlight: 10_000,
  workers: 1,
  lateThresholdMs: 10,
  maxScheduleLagMs: 1_000,
  /** How many nodes' `/websocket` to subscribe to for commits. */
  commitSubscriptions: 2,
  /** `--fault-load`: a send due to a down node goes to the next live one. */
  faultLoad: 'redirect',
} as const;

/** `benchmark`: what the plan holds when no flag, environment variable or config file says otherwise. */
export const BENCHMARK_DEFAULTS = {
  networkType: 'local',
  outputDir: './benchmarks',
  consoleOutput: true,
  fileOutput: true,
  committee: 4,
  durationSecs: 180,
  transactionSizeBytes: 512,
  localLoads: [100, 200, 500],
  remoteLoads: [50, 100, 200],
  runs: 1,
  nodeAccess: 'auto',
  startupWaitSecs: 30,
  cleanup: false,
  cleanupThorough: false,
  freshNetwork: false,
  loadSearch: false,
  faults: 0,
  crashRecovery: false,
  crashIntervalSecs: 60,
  /** `--fault-load`. */
  faultLoad: LOAD_DEFAULTS.faultLoad,
  settleTimeoutSecs: 60,
  settlePollMs: 200,
  settleSecs: 2,
  workers: LOAD_DEFAULTS.workers,
  connectionsPerEndpoint: LOAD_DEFAULTS.connectionsPerEndpoint,
  loadSearchStart: 100,
  loadSearchMax: 100_000,
  minEfficiencyPercent: 95,
  p99BoundMs: 1000,
  httpMethod: 'POST',
  httpPath: '/',
  httpBody: '{"tx":"{{tx}}","seq":{{seq}}}',
} as const;

/** `local-network` and `remote-network`: the flags they share. */
export const NETWORK_RUN_DEFAULTS = {
  numTransactions: 1000,
  transactionSizeBytes: BENCHMARK_DEFAULTS.transactionSizeBytes,
  transactionRate: 100,
  /** Longest wait for readiness, seconds: local-network. */
  localStartupWaitSecs: BENCHMARK_DEFAULTS.startupWaitSecs,
  /** … and remote-network (SSH, Docker install and image shipping take longer). */
  remoteStartupWaitSecs: 60,
  broadcastMode: 'async',
  outputDir: 'benchmarks',
} as const;
