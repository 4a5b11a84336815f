// etcd over its native gRPC API, as a meshbench protocol module:
//
//   npx --no-install benchmark --protocol ./examples/protocols/etcd-grpc.mjs \
//     --endpoints http://127.0.0.1:2379 --loads 500 --duration 20
//
// A worked example of docs/protocols.md: a protocol that is not HTTP request/reply gives
// its adapter a send(); meshbench keeps the open-loop schedule, the timeouts and every
// figure. Each transaction is one KV.Put of a new key (<prefix><run id>/<seq>) whose value
// is the transaction's bytes, the same keys as the built-in `etcd` protocol (the JSON
// gateway) writes, so the two can be compared on one cluster. Needs @grpc/grpc-js and
// @grpc/proto-loader (npm install them beside your module).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = dirname(fileURLToPath(import.meta.url));
const api = grpc.loadPackageDefinition(
  protoLoader.loadSync(join(here, 'etcd-kv.proto'), { longs: String, defaults: true }),
).etcdserverpb;

/** gRPC codes that mean the node could not be reached, not that it refused the put. */
const UNREACHABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.CANCELLED]);

/** `http://host:port` (an endpoint's rpcUrl) → `host:port`, gRPC's target. */
const target = (rpcUrl) => new URL(rpcUrl).host;

/** One channel per node and service, opened on first use and shared by its calls. */
function clients() {
  const open = new Map();
  const client = (Service, endpoint) => {
    const key = `${Service.serviceName}@${endpoint.rpcUrl}`;
    let made = open.get(key);
    if (!made) {
      made = new Service(target(endpoint.rpcUrl), grpc.credentials.createInsecure());
      open.set(key, made);
    }
    return made;
  };
  const closeAll = () => {
    for (const made of open.values()) made.close();
    open.clear();
  };
  return { client, closeAll };
}

/** Calls `method` with a deadline; resolves with the reply, rejects with the gRPC error. */
function call(client, method, request, timeoutMs, signal) {
  return new Promise((resolve, reject) => {
    const pending = client[method](request, { deadline: Date.now() + timeoutMs }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
    signal?.addEventListener('abort', () => pending.cancel(), { once: true });
  });
}

function status(endpoint, timeoutMs) {
  const { client, closeAll } = clients();
  return call(client(api.Maintenance, endpoint), 'Status', {}, timeoutMs).finally(closeAll);
}

export default {
  kind: 'etcd-grpc',
  settings: [
    {
      key: 'etcdGrpcKeyPrefix',
      describe: 'etcd-grpc: key prefix',
      defaultDescription: 'meshbench/',
      default: 'meshbench/',
      // A flag's value → { value } or { rule } (what is allowed, for the error line).
      parse: (value) =>
        typeof value === 'string' && value.length > 0 ? { value } : { rule: 'a non-empty key prefix' },
    },
  ],
  options: (values) => ({ kind: 'etcd-grpc', keyPrefix: values.etcdGrpcKeyPrefix ?? 'meshbench/' }),
  confirmsCommits: false,
  defaultRpcPort: 2379,
  describe: () => 'etcd (gRPC)',
  create(options, runId) {
    const { client, closeAll } = clients();
    const prefix = `${options.keyPrefix}${runId}/`;
    return {
      kind: 'etcd-grpc',
      repliesConfirmCommit: false,
      faultModel: 'crash',
      // The transaction as the put's key and value: "<seq> <base64 bytes>".
      body: (tx, seq) => `${seq} ${tx.base64}`,
      async send(endpoint, body, { signal, timeoutMs }) {
        const space = body.indexOf(' ');
        const request = {
          key: Buffer.from(prefix + body.slice(0, space)),
          value: Buffer.from(body.slice(space + 1), 'base64'),
        };
        try {
          const reply = await call(client(api.KV, endpoint), 'Put', request, timeoutMs, signal);
          return reply?.header ? { kind: 'ok' } : { kind: 'badResponse' };
        } catch (error) {
          if (UNREACHABLE.has(error.code)) throw error; // a connection error
          if (error.code === grpc.status.DEADLINE_EXCEEDED) {
            throw Object.assign(new Error(error.details), { name: 'TimeoutError' });
          }
          return { kind: 'rejected', code: `grpc:${error.code}` }; // e.g. grpc:8, too many requests
        }
      },
      async probe(endpoint, timeoutMs) {
        try {
          await status(endpoint, timeoutMs);
        } catch (error) {
          throw new Error(
            `etcd at ${endpoint.rpcUrl} does not answer gRPC (${error.details ?? error.message})`,
          );
        }
      },
      // The member's raft index: how far it has applied the log (the resync time after a restart).
      async height(endpoint, { timeoutMs = 2000 } = {}) {
        return Number((await status(endpoint, timeoutMs)).raftIndex);
      },
      close: async () => closeAll(),
    };
  },
};
