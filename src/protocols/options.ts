/**
 * What a run asks of its protocol: the options every layer from the protocols up shares.
 */
import type { EtcdKeyPattern } from './etcd-keys.js';

export type BroadcastMode = 'async' | 'sync' | 'commit';
export type ConfirmMode = 'none' | 'commit';

export type ProtocolOptions =
  | { readonly kind: 'cometbft'; readonly broadcastMode: BroadcastMode }
  | {
      readonly kind: 'etcd';
      /** Default `meshbench/`. */
      readonly keyPrefix?: string;
      /** Which key each put writes; default `unique` (per run, level and send). */
      readonly keys?: EtcdKeyPattern;
    }
  | {
      readonly kind: 'http';
      readonly method: string;
      readonly path: string;
      readonly headers?: Readonly<Record<string, string>>;
      /** Body template; `{{tx}}` becomes the base64 tx, `{{seq}}` the sequence number. */
      readonly bodyTemplate: string;
      /** Success is 2xx, and, when set, this JSON field (dot path) being truthy. */
      readonly successJsonField?: string;
    };
