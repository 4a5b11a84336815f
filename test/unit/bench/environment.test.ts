import { describe, expect, it } from 'vitest';
import { environmentFor, toolVersion } from '../../../src/bench/environment.js';
import { localEnvironment, remoteEnvironment } from '../../support/environments.js';

describe('environmentFor', () => {
  it('takes the node image id from the testbed facts', () => {
    expect(
      environmentFor({ environment: remoteEnvironment({ imageId: 'sha256:aa' }), readyAfterMs: 5 })
        .node_image_id,
    ).toBe('sha256:aa');
    expect(
      environmentFor({
        environment: localEnvironment({
          images: { 'meshbench/refnode:latest': 'sha256:bb', 'meshbench/other:latest': 'sha256:bb' },
        }),
        readyAfterMs: 5,
      }).node_image_id,
    ).toBe('sha256:bb');
    expect(environmentFor(undefined).node_image_id).toBeNull();
    expect(
      environmentFor({
        environment: { testbed: 'attached', attached: true, endpoints: ['http://127.0.0.1:26657'] },
        readyAfterMs: 0,
      }).node_image_id,
    ).toBeNull();
  });

  it('has the tool version and host facts', () => {
    const environment = environmentFor({ environment: localEnvironment(), readyAfterMs: 1200 });
    expect(environment.tool_version).toBe(toolVersion());
    expect(toolVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(environment.host).toMatchObject({ cpus: expect.any(Number), node_version: process.version });
    expect(environment.testbed).toEqual(localEnvironment());
    expect(environment.deploy_ready_after_ms).toBe(1200);
  });
});
