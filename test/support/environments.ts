/** Testbed facts for fake deployments in tests: what the real testbeds report, with overrides. */
import type { LocalEnvironment, RemoteEnvironment } from '../../src/testbed/testbed.js';

export function localEnvironment(overrides: Partial<LocalEnvironment> = {}): LocalEnvironment {
  return {
    testbed: 'local',
    engineVersion: '26.1.5',
    apiVersion: '1.45',
    os: 'Debian GNU/Linux 13',
    hostCpus: 2,
    hostMemoryBytes: 4_000_000_000,
    compose: 'docker-compose 1.29.2',
    composeFile: 'generated (--committee 2)',
    nodeAccess: 'direct',
    nodeAccessReason: 'this host routes to the compose network',
    composeProject: 'meshbench-test',
    nodeRule: 'generated committee',
    images: {},
    ...overrides,
  };
}

export function remoteEnvironment(overrides: Partial<RemoteEnvironment> = {}): RemoteEnvironment {
  return {
    testbed: 'remote',
    image: 'meshbench/refnode:latest',
    imageId: undefined,
    imageTransfer: 'ship',
    imageTransferMs: 0,
    stageMs: {},
    imageBytesShipped: 0,
    nodesPerHost: 1,
    hosts: [],
    ...overrides,
  };
}
