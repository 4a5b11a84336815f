/**
 * The Docker labels meshbench writes on what it creates and reads from compose files,
 * spelled once. Cleanup finds a run's containers, networks and volumes by RUN_LABEL.
 */

/** Every container, network and volume a run creates: `meshbench.run=<run id>`. */
export const RUN_LABEL = 'meshbench.run';
/** A compose service that is a node of the network: `meshbench.role=node`. */
export const ROLE_LABEL = 'meshbench.role';
/** A compose service's protocol (cometbft | etcd | http); default: the --protocol flag. */
export const PROTOCOL_LABEL = 'meshbench.protocol';
/** A compose service's RPC container port. */
export const RPC_PORT_LABEL = 'meshbench.rpc-port';
/** A compose service's Prometheus metrics container port. */
export const METRICS_PORT_LABEL = 'meshbench.metrics-port';
/** What the local testbed created: `meshbench.testbed=local`. */
export const TESTBED_LABEL = 'meshbench.testbed';
/** What remote-network started on a host: `meshbench.remote=1`. */
export const REMOTE_LABEL = 'meshbench.remote';
/** The node id of a remote node container. */
export const NODE_LABEL = 'meshbench.node';
/** The image ID a remote node was started from. */
export const IMAGE_ID_LABEL = 'meshbench.image-id';
/** The host ports a remote node holds (host networking), comma-separated. */
export const HOST_PORTS_LABEL = 'meshbench.host-ports';
/** An emulated SSH host of the sandbox: `meshbench.sandbox=1`. */
export const SANDBOX_LABEL = 'meshbench.sandbox';
