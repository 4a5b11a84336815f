import type { ProtocolOptions } from './options.js';
import { createCometbftProtocol } from './cometbft.js';
import { createEtcdProtocol } from './etcd.js';
import { createHttpProtocol } from './http.js';
import type { Protocol } from './protocol.js';

export type { Protocol, ReplyOutcome, CommitSource, RequestTemplate, ProtocolKind } from './protocol.js';
export { PROTOCOL_KINDS } from './protocol.js';

export type { EtcdKeyPattern, EtcdKeyPatternKind, EtcdKeysSummary } from './etcd-keys.js';
export { ETCD_KEY_DEFAULTS, ETCD_KEY_PATTERNS, checkEtcdKeyPattern } from './etcd-keys.js';

/** The adapter for `options`; `runId` is the generator run's (etcd puts it in its keys). */
export function createProtocol(options: ProtocolOptions, runId: string): Protocol {
  switch (options.kind) {
    case 'cometbft':
      return createCometbftProtocol(options.broadcastMode);
    case 'etcd':
      return createEtcdProtocol(options, runId);
    case 'http':
      return createHttpProtocol(options);
  }
}
