/** The host an SshSession of the unit tests names in its messages (`host0 (u@127.0.0.1:22)`). */
import type { RemoteHost } from '../../../src/testbed/remote/hosts.js';

export const sessionHost: RemoteHost = {
  name: 'host0',
  address: '127.0.0.1',
  port: 22,
  user: 'u',
  keyPath: '/k',
  keyPathExplicit: true,
  labels: {},
};
