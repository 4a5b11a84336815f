/**
 * The transport of protocols that send each transaction themselves (`Protocol.send`: gRPC
 * or any protocol that is not HTTP request/reply, usually in a user's module). The
 * generator keeps the schedule, the timeouts and the figures; the protocol only puts one
 * transaction on its wire and says how the node answered.
 *
 * A call that rejects is a connection error; one that outlives the generator's timeout is
 * aborted (the generator counted it as a timeout already). Each request ends exactly once.
 */
import type { Endpoint } from '../protocols/endpoint.js';
import type { Protocol } from '../protocols/protocol.js';
import type { Transport, TransportRequest, TransportSink } from './transport.js';

export interface DirectSink extends TransportSink {
  /** The protocol's own verdict on the reply (it parsed the reply itself). */
  onOutcome(outcome: Awaited<ReturnType<NonNullable<Protocol['send']>>>): void;
}

export class DirectTransport implements Transport {
  private closed = false;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly endpoints: readonly Endpoint[],
    /** The protocol per request variant (a mix's kinds); each has `send`. */
    private readonly protocols: readonly Protocol[],
    private readonly timeoutMs: number,
  ) {}

  send(node: number, body: string, sink: TransportSink, variant = 0): TransportRequest {
    const endpoint = this.endpoints[node] as Endpoint;
    const protocol = this.protocols[variant] as Protocol;
    const controller = new AbortController();
    let ended = false;
    const end = (report: () => void) => {
      if (ended) return;
      ended = true;
      this.inFlight.delete(controller);
      report();
    };
    if (this.closed) {
      queueMicrotask(() => end(() => sink.onFailure('connectionError')));
      return { abort: () => end(() => undefined) };
    }
    this.inFlight.add(controller);
    sink.onWire();
    let call: Promise<unknown>;
    try {
      call = (protocol.send as NonNullable<Protocol['send']>).call(protocol, endpoint, body, {
        signal: controller.signal,
        timeoutMs: this.timeoutMs,
      });
    } catch {
      call = Promise.reject(new Error('send threw'));
    }
    call.then(
      (outcome) =>
        end(() => {
          const verdict = outcome as Parameters<DirectSink['onOutcome']>[0];
          if (verdict && typeof verdict === 'object' && 'kind' in verdict)
            (sink as DirectSink).onOutcome(verdict);
          else (sink as DirectSink).onOutcome({ kind: 'badResponse' });
        }),
      (error: unknown) =>
        end(() =>
          sink.onFailure(
            (error as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : 'connectionError',
          ),
        ),
    );
    return {
      abort: () => {
        controller.abort();
        end(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
    const closing = new Set(this.protocols.filter((protocol) => protocol.close));
    await Promise.allSettled([...closing].map((protocol) => protocol.close?.()));
  }
}
