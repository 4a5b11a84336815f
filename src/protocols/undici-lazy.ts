/**
 * undici, loaded on first use (the protocols, the Prometheus scrapes and queries and the Influx
 * writer import it lazily, so a command that never sends a request does not load it, and one that
 * does loads it after its network is up). A CommonJS package: see src/common/lazy-module.ts.
 */
import type * as Undici from 'undici';
import { lazyCommonJs } from '../common/lazy-module.js';

export const undici: () => Promise<typeof Undici> = lazyCommonJs(() => import('undici'));
