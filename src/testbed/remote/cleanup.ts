/** Removing what runs left on a host, through the shared removal by label (../docker/cleanup.ts). */
import { MeshbenchError } from '../../common/errors.js';
import { removeLabelled } from '../docker/cleanup.js';
import { runSelector, testbedSelector } from '../docker/labels.js';
import type { RemovalSummary } from '../testbed.js';
import type { RemoteHostAgent } from './remote-host.js';
import { describeHost } from './ssh-session.js';

/**
 * Removes what a run (or, with runId undefined, every remote run) left on one host: its
 * containers with their anonymous volumes; with `thorough`, also named volumes and the images
 * they ran (the shipped image, `imageId`, which `--down` may give as a reference) when nothing
 * else uses them. Throws one line naming the host when something could not be removed.
 */
export async function cleanHost(
  agent: RemoteHostAgent,
  options: { runId?: string; thorough: boolean; imageId?: string },
): Promise<RemovalSummary> {
  const selector = options.runId ? runSelector(options.runId, 'remote') : testbedSelector('remote');
  let report;
  try {
    report = await removeLabelled(agent.docker, selector, {
      volumes: options.thorough,
      ...(options.thorough
        ? { labelledImages: true, ...(options.imageId ? { images: [options.imageId] } : {}) }
        : {}),
    });
  } catch (error) {
    throw agent.failure('removing containers', error);
  }
  if (report.errors.length > 0) {
    throw new MeshbenchError(
      'REMOTE_COMMAND',
      `${describeHost(agent.host)}: cleanup failed: ${report.errors[0]}${report.errors.length > 1 ? ` (and ${report.errors.length - 1} more)` : ''}`,
      { hint: 'fix the cause on that host and re-run with remote-network --down' },
    );
  }
  return { host: agent.host.name, ...(options.runId ? { runId: options.runId } : {}), ...report };
}

/** `removed 2 container(s), 2 volume(s), 1 image(s)` as progress reports it. */
export function removedMessage(removed: RemovalSummary, thorough: boolean): string {
  return `removed ${removed.containers} container(s)${thorough ? `, ${removed.volumes} volume(s), ${removed.images} image(s)` : ''}`;
}
