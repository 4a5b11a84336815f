/**
 * Propagation probes for etcd: a probe is a put of its own key, `<key prefix>probes/<scope>/<id>`
 * (never one of the load's: those are `<prefix><run id>/…` or a zero-padded index), submitted
 * through the JSON gateway's `/v3/kv/put`; each member is watched with one range watch over the
 * scope's keys (`POST /v3/watch`, a stream of newline-delimited JSON), so a member reports a
 * probe as soon as it has applied it, and the load's puts never reach the watch. When the stream
 * ends (the member crashed or restarted), the watch counts a drop and opens it again every
 * `retryMs` until closed.
 */
import { undici } from './undici-lazy.js';
import type { Dispatcher } from 'undici';
import type { Endpoint } from './endpoint.js';
import { sleep } from '../common/sleep.js';
import { joinUrl, parseJson, readPath } from './protocol.js';
import type { ProbeTransaction, TransactionWatch, TransactionWatcher } from './protocol.js';

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Where a scope's probe keys live. */
export function etcdProbePrefix(keyPrefix: string, scope: string): string {
  return `${keyPrefix}probes/${scope}/`;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every byte 0xff: to the end of the key space
}

/**
 * The probe ids a watch-stream message names (keys under `prefix`), or undefined for a message
 * without events. `created` when it is the watch's confirmation.
 */
export function watchEvents(message: unknown, prefix: string): { created: boolean; ids: string[] } {
  const created = readPath(message, 'result.created') === true;
  const events = readPath(message, 'result.events');
  const ids: string[] = [];
  if (Array.isArray(events)) {
    for (const event of events) {
      if (readPath(event, 'type') === 'DELETE') continue;
      const key = readPath(event, 'kv.key');
      if (typeof key !== 'string') continue;
      const text = Buffer.from(key, 'base64').toString('utf8');
      if (text.startsWith(prefix)) ids.push(text.slice(prefix.length));
    }
  }
  return { created, ids };
}

class EtcdWatch implements TransactionWatch {
  readonly ready: Promise<boolean>;
  readonly #abort = new AbortController();
  #live = false;
  #closed = false;
  #drops = 0;
  #done: Promise<void> = Promise.resolve();

  constructor(
    endpoint: Endpoint,
    private readonly prefix: string,
    private readonly onSeen: (id: string) => void,
    connectTimeoutMs = 5000,
    private readonly retryMs = 250,
  ) {
    this.ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), connectTimeoutMs);
      this.#done = this.#watch(endpoint, (live) => {
        clearTimeout(timer);
        resolve(live);
      });
    });
  }

  /** The stream, opened again whenever it ends until the watch is closed; `settle` after the first try. */
  async #watch(endpoint: Endpoint, settle: (live: boolean) => void): Promise<void> {
    for (;;) {
      const answered = await this.#stream(endpoint, settle);
      if (this.#live && !this.#closed) this.#drops++;
      this.#live = false;
      settle(false);
      // a member that refuses the watch (4xx: no such gateway path) will not take it the next time either
      if (this.#closed || answered === 'refused') return;
      await sleep(this.retryMs, this.#abort.signal);
      if (this.#closed) return;
    }
  }

  /** One watch stream until it ends: `refused` when the member answered it with a 4xx status. */
  async #stream(endpoint: Endpoint, settle: (live: boolean) => void): Promise<'ended' | 'refused'> {
    const key = Buffer.from(this.prefix, 'utf8');
    const body = JSON.stringify({
      create_request: {
        key: key.toString('base64'),
        range_end: prefixRangeEnd(key).toString('base64'),
      },
    });
    let response: Dispatcher.ResponseData;
    try {
      const { request } = await undici();
      response = await request(joinUrl(endpoint.rpcUrl, '/v3/watch'), {
        method: 'POST',
        headers: JSON_HEADERS,
        body,
        signal: this.#abort.signal,
        bodyTimeout: 0, // a watch is quiet between probes
      });
    } catch {
      return 'ended';
    }
    if (response.statusCode !== 200) {
      await response.body.dump().catch(() => undefined);
      return response.statusCode >= 400 && response.statusCode < 500 ? 'refused' : 'ended';
    }
    let rest = '';
    try {
      for await (const chunk of response.body) {
        rest += (chunk as Buffer).toString('utf8');
        let newline = rest.indexOf('\n');
        while (newline >= 0) {
          const line = rest.slice(0, newline).trim();
          rest = rest.slice(newline + 1);
          newline = rest.indexOf('\n');
          if (line === '') continue;
          const { created, ids } = watchEvents(parseJson(line), this.prefix);
          if (created && !this.#live) {
            this.#live = true;
            settle(true);
          }
          for (const id of ids) this.onSeen(id);
        }
      }
    } catch {
      // aborted (close) or the member went away
    }
    return 'ended';
  }

  get connected(): boolean {
    return this.#live && !this.#closed;
  }

  get drops(): number {
    return this.#drops;
  }

  expect(): Promise<void> {
    // The watch covers the scope's keys: nothing to add per probe.
    return this.connected ? Promise.resolve() : Promise.reject(new Error('the watch is not live'));
  }

  forget(): void {}

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#done;
  }
}

/** etcd's propagation probes under `keyPrefix`: puts, and a range watch per member. */
export function etcdTransactionWatcher(keyPrefix: string): TransactionWatcher {
  return {
    method: `etcd: /v3/kv/put of ${keyPrefix}probes/<scope>/<id>; on each member, a /v3/watch over the scope`,
    async submit(endpoint: Endpoint, probe: ProbeTransaction, timeoutMs: number): Promise<void> {
      const key = Buffer.from(`${etcdProbePrefix(keyPrefix, probe.scope)}${probe.id}`, 'utf8');
      const { request } = await undici();
      const response = await request(joinUrl(endpoint.rpcUrl, '/v3/kv/put'), {
        method: 'POST',
        headers: JSON_HEADERS,
        body: `{"key":"${key.toString('base64')}","value":"MQ=="}`,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const reply = parseJson(await response.body.text());
      if (response.statusCode !== 200 || readPath(reply, 'header') === undefined) {
        const why = readPath(reply, 'error') ?? readPath(reply, 'message');
        throw new Error(
          `${endpoint.nodeId} refused the probe (HTTP ${response.statusCode}${why === undefined ? '' : `: ${String(why)}`})`,
        );
      }
    },
    watch(endpoint, scope, onSeen) {
      return new EtcdWatch(endpoint, etcdProbePrefix(keyPrefix, scope), onSeen);
    },
  };
}
