/**
 * yaml, loaded on use: about 260 KB of source that a command reading no YAML (no settings file,
 * no mix, no user compose file to resolve) leaves off its start-up path.
 */
import type * as Yaml from 'yaml';
import { lazyCommonJs } from './lazy-module.js';

export const loadYaml: () => Promise<typeof Yaml> = lazyCommonJs(() => import('yaml'));
