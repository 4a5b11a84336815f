import type { ProtocolOptions } from '../load/types.js';
import { createCometbftProtocol } from './cometbft.js';
import { createEtcdProtocol } from './etcd.js';
import { createHttpProtocol } from './http.js';
import type { Protocol } from './protocol.js';

export type { Protocol, ReplyOutcome, CommitSource, RequestTemplate, ProtocolKind } from './protocol.js';
export { PROTOCOL_KINDS } from './protocol.js';

export function createProtocol(options: ProtocolOptions): Protocol {
  switch (options.kind) {
    case 'cometbft':
      return createCometbftProtocol(options.broadcastMode);
    case 'etcd':
      return createEtcdProtocol(options.keyPrefix);
    case 'http':
      return createHttpProtocol(options);
  }
}
