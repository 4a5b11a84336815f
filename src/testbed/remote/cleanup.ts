/** Removing what runs left on a host, through the shared removal by label (../docker/cleanup.ts). */
import type Docker from 'dockerode';
import { durationText } from '../../common/duration-text.js';
import { MeshbenchError } from '../../common/errors.js';
import { ROLE_LABEL } from '../../common/labels.js';
import { NETHELPER_IMAGE, sweepScript } from '../../common/net-shaping.js';
import { removeLabelled } from '../docker/cleanup.js';
import { statusOf } from '../docker/connection.js';
import {
  remoteSidecarLabels,
  REMOTE_LABEL,
  runSelector,
  TESTBED_LABEL,
  testbedSelector,
} from '../docker/labels.js';
import type { RemovalSummary } from '../testbed.js';
import type { RemoteHostAgent } from './remote-host.js';
import { describeHost } from './ssh-session.js';

/** The removals under way, per host connection and run ('*': every run), for cleanHost to join. */
const underWay = new WeakMap<
  RemoteHostAgent,
  Map<string, { readonly promise: Promise<RemovalSummary>; readonly thorough: boolean }>
>();

/**
 * Removes what a run (or, with runId undefined, every remote run) left on one host: its
 * containers with their volumes (anonymous and the nodes' named data volumes); with `thorough`,
 * also the images they ran (the shipped image, `imageId`, which `--down` may give as a reference) when nothing
 * else uses them. Throws one line naming the host when something could not be removed.
 *
 * A call while a removal of the same run is under way on that connection joins it (or, to
 * be thorough where it is not, follows it): a second Ctrl-C during the cleanup of the first
 * removed the same containers at the same time, each removal failed on what the other had
 * taken ("unrecognized image ID"), and the forced exit cut both, leaving the volumes.
 */
export function cleanHost(
  agent: RemoteHostAgent,
  options: { runId?: string; thorough: boolean; imageId?: string },
): Promise<RemovalSummary> {
  const key = options.runId ?? '*';
  const removals =
    underWay.get(agent) ?? new Map<string, { promise: Promise<RemovalSummary>; thorough: boolean }>();
  underWay.set(agent, removals);
  const running = removals.get(key);
  if (running && (running.thorough || !options.thorough)) return running.promise;
  const promise = (running ? running.promise.catch(() => undefined) : Promise.resolve()).then(() =>
    removeFromHost(agent, options),
  );
  const entry = { promise, thorough: options.thorough };
  removals.set(key, entry);
  const done = (): void => {
    if (removals.get(key) === entry) removals.delete(key);
  };
  promise.then(done, done);
  return promise;
}

async function removeFromHost(
  agent: RemoteHostAgent,
  options: { runId?: string; thorough: boolean; imageId?: string },
): Promise<RemovalSummary> {
  const selector = options.runId ? runSelector(options.runId, 'remote') : testbedSelector('remote');
  let report;
  try {
    report = await removeLabelled(agent.docker, selector, {
      // the nodes' data volumes go with their containers; thorough: the images too
      volumes: true,
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
  await sweepHostNamespace(agent, options.runId);
  return { host: agent.host.name, ...(options.runId ? { runId: options.runId } : {}), ...report };
}

/** How long the one-shot sweep may take, from its creation to its removal (it takes well under a second). */
const SWEEP_BOUND_MS = 30_000;

/**
 * Remote nodes run in the host's network namespace, so shaping rules live there, not in a
 * container: the helpers remove them when they go, but a helper killed outright could not.
 * With no helper of any run left on the host, this removes meshbench's chains and tc trees
 * from the host's namespace (a one-shot nethelper with --network host), when the image is there.
 * The engine removes the one-shot when it exits (AutoRemove), so a meshbench killed while it
 * runs (a second Ctrl-C during cleanup) leaves nothing; it carries the run's labels, so one
 * killed between its creation and its start is found by the next cleanup or `--down`.
 */
async function sweepHostNamespace(agent: RemoteHostAgent, runId: string | undefined): Promise<void> {
  const docker = agent.docker;
  try {
    const helpers = await docker.listContainers({ filters: { label: [`${ROLE_LABEL}=nethelper`] } });
    if (helpers.length > 0) return;
    await docker.getImage(NETHELPER_IMAGE).inspect();
  } catch {
    return; // no image: nothing of ours ever shaped this host
  }
  const container = await docker.createContainer({
    Image: NETHELPER_IMAGE,
    Cmd: ['sh', '-c', sweepScript()],
    Labels: {
      ...(runId === undefined
        ? { [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1' }
        : remoteSidecarLabels(runId)),
      [ROLE_LABEL]: 'nethelper-sweep',
    },
    HostConfig: { NetworkMode: 'host', CapAdd: ['NET_ADMIN'], AutoRemove: true },
  });
  // asked before the start, so the exit cannot come first (as `docker run --rm` does); a 404 is
  // a container already gone. Bounded (the sweep takes a fraction of a second): an engine that
  // does not remove it (a failed auto-removal, a stalled engine) kept this waiting until the
  // engine's silence bound, 120 s, as long as the whole stop's after a Ctrl-C.
  // (_query: the signal stays out of the query string)
  const bound = AbortSignal.timeout(SWEEP_BOUND_MS);
  const removed = container
    .wait({ _query: { condition: 'removed' }, abortSignal: bound } as Docker.ContainerWaitOptions)
    .then(
      () => undefined,
      (error: unknown) =>
        statusOf(error) === 404
          ? undefined
          : bound.aborted
            ? new Error(`its one-shot helper was not gone within ${durationText(SWEEP_BOUND_MS)}`)
            : error,
    );
  try {
    await container.start();
    const failure = await removed;
    if (failure !== undefined) throw failure;
  } catch (error) {
    await container
      .remove({
        _query: { force: true },
        abortSignal: AbortSignal.timeout(SWEEP_BOUND_MS),
      } as Docker.ContainerRemoveOptions)
      .catch(() => undefined);
    throw agent.failure('sweeping network rules', error);
  }
}

/** `removed 2 container(s), 2 volume(s), 1 image(s)` as progress reports it. */
export function removedMessage(removed: RemovalSummary, thorough: boolean): string {
  return `removed ${removed.containers} container(s)${thorough ? `, ${removed.volumes} volume(s), ${removed.images} image(s)` : ''}`;
}
