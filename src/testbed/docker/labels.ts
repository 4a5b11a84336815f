/**
 * The labels meshbench puts on what it creates, in one place: every container, network and
 * volume of a run carries `meshbench.run=<id>` and `meshbench.testbed=local|remote`, and
 * cleanup, `--down`, `--status` and `--logs` find them by these labels only.
 */
export { RUN_LABEL, ROLE_LABEL } from '../../common/run-id.js';
import { RUN_LABEL } from '../../common/run-id.js';

/** `local` or `remote`: which testbed created the object. */
export const TESTBED_LABEL = 'meshbench.testbed';
/** The node id a container runs (remote nodes; local nodes are named by their compose service). */
export const NODE_LABEL = 'meshbench.node';
/** `1` on every remote container; what `remote-network --down` looks for (also on containers of older versions). */
export const REMOTE_LABEL = 'meshbench.remote';
/** The ID of the shipped image a remote container runs, so a thorough cleanup can remove it. */
export const IMAGE_ID_LABEL = 'meshbench.image-id';
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';
export const COMPOSE_NUMBER_LABEL = 'com.docker.compose.container-number';

export type Testbed = 'local' | 'remote';

/**
 * Which objects a query means: any of the alternatives, each a set of `key=value` labels that
 * must all match (the engine's label filter ANDs the labels of one query).
 */
export type LabelSelector = readonly (readonly string[])[];

export function label(key: string, value: string): string {
  return `${key}=${value}`;
}

/** The labels of one remote node container (its volume carries them too). */
export function remoteNodeLabels(runId: string, nodeId: string): Record<string, string> {
  return { [RUN_LABEL]: runId, [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1', [NODE_LABEL]: nodeId };
}

/** The compose project of a local run. */
export function projectNameOf(runId: string): string {
  return `meshbench-${runId}`;
}

/** Everything of one run: by its run label, and (local) by its compose project. */
export function runSelector(runId: string, testbed: Testbed): LabelSelector {
  return testbed === 'local'
    ? [[label(RUN_LABEL, runId)], [label(COMPOSE_PROJECT_LABEL, projectNameOf(runId))]]
    : [[label(RUN_LABEL, runId)]];
}

/** Everything a testbed created, whichever run. */
export function testbedSelector(testbed: Testbed): LabelSelector {
  return testbed === 'local' ? [[label(TESTBED_LABEL, 'local')]] : [[label(REMOTE_LABEL, '1')]];
}
