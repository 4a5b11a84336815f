export type {
  Protocol,
  ProtocolDefinition,
  ReplyOutcome,
  CommitSource,
  RequestTemplate,
  ProtocolKind,
  BacklogProbe,
  BacklogReading,
  ProbeTransaction,
  TransactionWatch,
  TransactionWatcher,
} from './protocol.js';
export { BacklogUnavailableError } from './protocol.js';
export type { ProtocolSetting, SettingValue } from './settings.js';
export {
  DEFAULT_PROTOCOL,
  committingKinds,
  createProtocol,
  describeProtocol,
  findProtocol,
  isBuiltInProtocol,
  protocolDefinition,
  protocolDefinitions,
  protocolChoices,
  protocolKinds,
  protocolOptionsFrom,
  protocolSettings,
  registerProtocol,
  loadProtocolModule,
  protocolModulePaths,
} from './registry.js';
export { isModuleSpecifier } from './module.js';

export type { EtcdKeyPattern, EtcdKeyPatternKind, EtcdKeysSummary } from './etcd-keys.js';
export { ETCD_KEY_DEFAULTS, ETCD_KEY_PATTERNS, checkEtcdKeyPattern } from './etcd-keys.js';

export type { MeshDelivery, DeliveryStreamHandlers, DeliveryStreamOptions } from './mesh-stream.js';
export { DeliveryStream, SseParser, deliveriesUrl, parseDelivery } from './mesh-stream.js';
export { DeliveryCounter, deliveriesNeeded, parseDeliveryRule } from './mesh.js';
