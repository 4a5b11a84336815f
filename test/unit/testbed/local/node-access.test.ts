import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { chooseNodeAccess, engineIsLocal, onLocalSubnet } from '../../../../src/testbed/local/node-access.js';

function ipv4(address: string, netmask: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null };
}

/** A Linux host with the default bridge and one compose network. */
const linux = {
  lo: [ipv4('127.0.0.1', '255.0.0.0', true)],
  eth0: [ipv4('10.0.2.15', '255.255.255.0')],
  docker0: [ipv4('172.17.0.1', '255.255.0.0')],
  'br-1a2b': [ipv4('192.167.0.1', '255.255.0.0')],
};

describe('node access', () => {
  it('knows which addresses are on a subnet of this host', () => {
    expect(onLocalSubnet('172.17.0.3', linux)).toBe(true);
    expect(onLocalSubnet('192.167.10.2', linux)).toBe(true);
    expect(onLocalSubnet('172.18.0.2', linux)).toBe(false);
    expect(onLocalSubnet('172.17.0.1', linux)).toBe(false); // the host's own address
    expect(onLocalSubnet('127.0.0.2', linux)).toBe(false); // loopback is not a compose network
    expect(onLocalSubnet('fd00::2', linux)).toBe(false);
    expect(onLocalSubnet('300.1.1.1', linux)).toBe(false);
  });

  it('goes direct only when every node is routable and the engine is local', () => {
    const nodes = [
      { nodeId: 'a', addresses: ['172.18.0.9', '192.167.10.2'] },
      { nodeId: 'b', addresses: ['192.167.10.3'] },
    ];
    const auto = chooseNodeAccess('auto', nodes, { env: {}, interfaces: linux });
    expect(auto).toMatchObject({ access: 'direct' });
    expect('directAddress' in auto && [...auto.directAddress]).toEqual([
      ['a', '192.167.10.2'],
      ['b', '192.167.10.3'],
    ]);
    const oneMissing = [...nodes, { nodeId: 'c', addresses: ['172.30.0.2'] }];
    expect(chooseNodeAccess('auto', oneMissing, { env: {}, interfaces: linux })).toMatchObject({
      access: 'published',
      reason: expect.stringMatching(/no interface on the network of c/),
    });
    expect(chooseNodeAccess('direct', oneMissing, { env: {}, interfaces: linux })).toEqual({
      error: 'this host has no interface on the network of c',
    });
    expect(
      chooseNodeAccess('auto', nodes, { env: { DOCKER_HOST: 'tcp://10.0.0.5:2375' }, interfaces: linux }),
    ).toMatchObject({ access: 'published', reason: expect.stringMatching(/not on this machine/) });
    expect(chooseNodeAccess('published', nodes, { env: {}, interfaces: linux })).toMatchObject({
      access: 'published',
    });
  });

  it('treats a unix socket as a local engine', () => {
    expect(engineIsLocal({})).toBe(true);
    expect(engineIsLocal({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe(true);
    expect(engineIsLocal({ DOCKER_HOST: 'ssh://me@box' })).toBe(false);
  });
});
