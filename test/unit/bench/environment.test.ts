import { describe, expect, it } from 'vitest';
import { environmentFor, toolVersion } from '../../../src/bench/environment.js';

describe('environmentFor', () => {
  it('takes the node image id from the testbed facts', () => {
    expect(environmentFor({ environment: { imageId: 'sha256:aa' }, readyAfterMs: 5 }).node_image_id).toBe(
      'sha256:aa',
    );
    expect(
      environmentFor({
        environment: { images: { 'meshbench/refnode:latest': 'sha256:bb' } },
        readyAfterMs: 5,
      }).node_image_id,
    ).toBe('sha256:bb');
    expect(environmentFor(undefined).node_image_id).toBeNull();
  });

  it('has the tool version and host facts', () => {
    const environment = environmentFor({ environment: { testbed: 'local' }, readyAfterMs: 1200 });
    expect(environment.tool_version).toBe(toolVersion());
    expect(toolVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(environment.host).toMatchObject({ cpus: expect.any(Number), node_version: process.version });
    expect(environment.testbed).toEqual({ testbed: 'local' });
    expect(environment.deploy_ready_after_ms).toBe(1200);
  });
});
