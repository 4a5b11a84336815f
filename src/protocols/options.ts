/**
 * What a run asks of its protocol: the options every layer from the protocols up shares.
 * Each protocol types its own in its file (CometbftOptions, EtcdOptions, HttpOptions) and
 * checks them (`ProtocolDefinition.check`); the layers above only pass them on.
 */
export type { BroadcastMode, CometbftOptions } from './cometbft.js';
export type { EtcdOptions } from './etcd.js';
export type { HttpOptions } from './http.js';
export type { MeshOptions, MeshDeliveryRule } from './mesh.js';

export type ConfirmMode = 'none' | 'commit';

/** A protocol's kind and its settings (see the protocol's file for which). */
export type ProtocolOptions = { readonly kind: string } & { readonly [setting: string]: unknown };
