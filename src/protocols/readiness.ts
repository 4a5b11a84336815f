/**
 * How a protocol finds a deployed node ready: a small probe the testbeds poll
 * (src/testbed/readiness.ts polls every node at once and names the ones that are not).
 * The probe asks over the `http` function it is given, so tests pass their own.
 */

export interface ReadinessTarget {
  readonly nodeId: string;
  readonly rpcUrl: string;
}

export interface ProbeResult {
  readonly ready: boolean;
  /** What is missing or went wrong, for the timeout message. */
  readonly detail: string;
  /** How many peers the node said it has, when the probe asked (a node that answers but is alone says 0). */
  readonly peers?: number;
}

export type HttpGet = (url: string) => Promise<{ status: number; body: string }>;
export type ReadinessProbe = (target: ReadinessTarget, http: HttpGet) => Promise<ProbeResult>;

/** A failed request in a few words (the error code when there is one). */
export function describeError(error: unknown): string {
  const seen = error as {
    name?: string;
    code?: string;
    message?: string;
    cause?: unknown;
    errors?: unknown[];
  };
  if (seen.name === 'TimeoutError' || seen.name === 'AbortError') return 'no answer (request timed out)';
  // fetch wraps the socket error: TypeError('fetch failed', { cause }) (an AggregateError for several addresses).
  const cause = seen.cause as { code?: string; message?: string; errors?: { code?: string }[] } | undefined;
  const code = seen.code ?? cause?.code ?? cause?.errors?.[0]?.code;
  return code ?? cause?.message ?? seen.message ?? String(error);
}

/** GETs `url` and parses its JSON; throws a short Error otherwise. */
export async function getJson(http: HttpGet, url: string): Promise<unknown> {
  const reply = await http(url);
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status} from ${new URL(url).pathname}`);
  try {
    return JSON.parse(reply.body) as unknown;
  } catch {
    throw new Error(`${new URL(url).pathname} did not answer JSON`);
  }
}

/** Any HTTP answer below 500 on the RPC URL (etcd, plain HTTP services). */
export function httpProbe(path = '/'): ReadinessProbe {
  return async (target, http) => {
    try {
      const reply = await http(`${target.rpcUrl}${path}`);
      return reply.status < 500
        ? { ready: true, detail: 'ready' }
        : { ready: false, detail: `HTTP ${reply.status} from ${path}` };
    } catch (error) {
      return { ready: false, detail: describeError(error) };
    }
  };
}
