import { describe, expect, it } from 'vitest';
import { MeshbenchError } from '../../../../src/common/errors.js';
import { builtImageName, nameBuiltImages } from '../../../../src/testbed/local/compose-file.js';
import { checkComposeFiles, labelledProtocol } from '../../../../src/testbed/local/user-compose.js';

function refusal(fn: () => unknown): MeshbenchError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MeshbenchError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe("labelledProtocol: the protocol a compose file's nodes name", () => {
  const node = (service: string, protocol?: string) => ({ service, protocol });

  it('is the one every labelled node names; undefined when none has a label', () => {
    expect(labelledProtocol([node('kv0', 'etcd'), node('kv1', 'etcd')], 'f.yml')).toBe('etcd');
    // nodes without a label take it too (they take the run's protocol)
    expect(labelledProtocol([node('kv0', 'etcd'), node('side')], 'f.yml')).toBe('etcd');
    expect(labelledProtocol([node('a'), node('b')], 'f.yml')).toBeUndefined();
  });

  it('refuses labels that disagree on one line, naming them (exit 2)', () => {
    const error = refusal(() =>
      labelledProtocol(
        [
          node('kv0', 'etcd'),
          node('web0', 'http'),
          node('kv1', 'etcd'),
          node('kv2', 'etcd'),
          node('kv3', 'etcd'),
        ],
        'mixed.yml',
      ),
    );
    expect(error.code).toBe('BAD_FLAG');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'compose file mixed.yml labels its nodes with different protocols (etcd: kv0, kv1, kv2 and 1 more; http: web0), and the load speaks one to every node',
    );
    expect(error.hint).toMatch(/same meshbench\.protocol label, or \(local-network, benchmark\) --protocol/);
  });
});

describe('checkComposeFiles', () => {
  it('names a missing file and a folder with the fix', async () => {
    await expect(checkComposeFiles(['no/such/file.yml'])).rejects.toThrow(
      /^compose file no\/such\/file\.yml does not exist$/,
    );
    await expect(checkComposeFiles(['test'])).rejects.toThrow(/^compose file test is a folder$/);
    await expect(checkComposeFiles(['package.json'])).resolves.toBeUndefined();
  });
});

describe('nameBuiltImages: one image per service a project builds, not one per run', () => {
  it("names a service with build: and no image: after the project's folder and the service", () => {
    const resolved = {
      services: {
        web_1: { build: { context: '/home/me/My Node' }, labels: { a: 'b' } },
        named: { build: { context: '.' }, image: 'myorg/node:dev' },
        plain: { image: 'nginx' },
      },
      networks: {},
    };
    const before = structuredClone(resolved);
    const { project, named, images } = nameBuiltImages(resolved, '/home/me/My Node');
    expect(named).toEqual(['web_1']);
    expect(images).toEqual(['meshbench-build/my-node-web-1:latest', 'myorg/node:dev']);
    expect((project.services as Record<string, Record<string, unknown>>).web_1).toEqual({
      build: { context: '/home/me/My Node' },
      labels: { a: 'b' },
      image: 'meshbench-build/my-node-web-1:latest',
    });
    // an image the user named, and a service that builds nothing, stay as they are
    expect((project.services as Record<string, unknown>).named).toEqual(resolved.services.named);
    expect((project.services as Record<string, unknown>).plain).toEqual(resolved.services.plain);
    expect(resolved).toEqual(before);
    // nothing built: the same object back
    const none = { services: { plain: { image: 'nginx' } } };
    expect(nameBuiltImages(none, '/x')).toEqual({ project: none, named: [], images: [] });
  });

  it('makes names Docker takes from any folder', () => {
    expect(builtImageName('/srv/__Odd..Folder--', 'Node.A')).toBe('meshbench-build/odd-folder-node-a:latest');
    expect(builtImageName('/', 'n')).toBe('meshbench-build/project-n:latest');
    expect(builtImageName('C:\\work\\Net', 'n')).toBe('meshbench-build/net-n:latest');
  });
});
