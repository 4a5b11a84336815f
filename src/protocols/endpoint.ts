/**
 * Where a client reaches one node: the vocabulary every layer from the protocols up
 * shares (the testbeds hand endpoints out, the generator and the protocols use them).
 */

/** How a client reaches one node. */
export interface Endpoint {
  /** Stable node name, e.g. `node0`. */
  readonly nodeId: string;
  /** Base URL of the node's RPC, e.g. `http://127.0.0.1:26657`. */
  readonly rpcUrl: string;
  /** WebSocket URL for event subscriptions, e.g. `ws://127.0.0.1:26657/websocket`. */
  readonly wsUrl?: string;
  /** Prometheus metrics URL, when the node exposes one. */
  readonly metricsUrl?: string;
  /** Where the node runs: `local`, or the remote host's name/address. */
  readonly host?: string;
  /**
   * The node's clock − the reader's, ms: 0 for a node on this machine, a remote host's offset
   * measured at deploy. Absent: not known. Readers use times the node reports itself (a mesh
   * node's delivery `at`) only when it is known.
   */
  readonly clockOffsetMs?: number;
}
