/**
 * Attach mode (`benchmark --endpoints`): a testbed over a network someone else runs.
 * Nothing is deployed and nothing removed; `preflight` probes every endpoint's health
 * before the run writes anything. Node ids are `endpoint0`…, or the names given (`--endpoints
 * node0=http://…`, as the nodes name themselves); the event stream for commit
 * confirmation is the protocol's (cometbft: `<url>/websocket`).
 */
import { checkEndpointUrl } from '../../load/validate.js';
import type { Protocol } from '../../protocols/protocol.js';
import type { Deployment, Endpoint, Testbed } from '../testbed.js';

export interface AttachedTestbedOptions {
  readonly runId: string;
  readonly urls: readonly string[];
  /** The nodes' names, in the order of `urls` (`--endpoints NAME=URL`); absent: endpoint0, …. */
  readonly names?: readonly string[];
  /** `--endpoint-metrics`: each endpoint's Prometheus page, in the order of `urls` (its `metricsUrl`). */
  readonly metricsUrls?: readonly string[];
  /** The protocol spoken: its event stream (cometbft: `<url>/websocket`) confirms commits. */
  readonly protocol?: Protocol;
  /** Health probe of the endpoints (`probeEndpoints` from src/load/index.ts); none: no probe. */
  readonly probe?: (endpoints: readonly Endpoint[]) => Promise<void>;
}

export class AttachedTestbed implements Testbed {
  readonly kind = 'attached';
  readonly #deployment: Deployment;
  readonly #probe: AttachedTestbedOptions['probe'];

  constructor(options: AttachedTestbedOptions) {
    this.#deployment = attachedDeployment(
      options.runId,
      options.urls,
      options.protocol,
      options.metricsUrls,
      options.names,
    );
    this.#probe = options.probe;
  }

  get endpoints(): readonly Endpoint[] {
    return this.#deployment.endpoints;
  }

  /** Every endpoint must answer its health probe (an unreachable one is a one-line error). */
  async preflight(_options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#probe?.(this.#deployment.endpoints);
  }

  async deploy(): Promise<Deployment> {
    return this.#deployment;
  }
}

/** The deployment over the endpoints of a network someone else runs: no deploy, nothing to destroy. */
export function attachedDeployment(
  runId: string,
  urls: readonly string[],
  protocol?: Protocol,
  metricsUrls?: readonly string[],
  names?: readonly string[],
): Deployment {
  const endpoints: Endpoint[] = urls.map((raw, index) => {
    const url = checkEndpointUrl(raw.trim());
    const endpoint: Endpoint = {
      nodeId: names?.[index] ?? `endpoint${index}`,
      rpcUrl: url.href.replace(/\/+$/, ''),
      host: url.host,
      ...(metricsUrls?.[index] !== undefined ? { metricsUrl: metricsUrls[index] } : {}),
    };
    const commits = protocol?.commits;
    return commits ? { ...endpoint, wsUrl: commits.websocketUrl(endpoint) } : endpoint;
  });
  return {
    runId,
    kind: 'attached',
    endpoints,
    nodes: [],
    environment: {
      testbed: 'attached',
      attached: true,
      endpoints: urls,
      ...(metricsUrls ? { metricsUrls } : {}),
    },
    readyAfterMs: 0,
    async destroy() {},
    // Nothing of its own is open: the generator and the settle polls close what they open.
    async release() {},
    async [Symbol.asyncDispose]() {},
  };
}
