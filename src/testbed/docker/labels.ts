/**
 * The labels meshbench puts on what it creates, in one place: every container, network and
 * volume of a run carries `meshbench.run=<id>` and `meshbench.testbed=local|remote`, and
 * cleanup, `--down`, `--status` and `--logs` find them by these labels only.
 */
export {
  HOST_PORTS_LABEL,
  IMAGE_ID_LABEL,
  NODE_LABEL,
  REMOTE_LABEL,
  ROLE_LABEL,
  RUN_LABEL,
  TESTBED_LABEL,
} from '../../common/labels.js';
import { NODE_LABEL, REMOTE_LABEL, RUN_LABEL, TESTBED_LABEL } from '../../common/labels.js';
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

/** The labels of a remote node's sidecar (found and removed with its run; not a node). */
export function remoteSidecarLabels(runId: string): Record<string, string> {
  return { [RUN_LABEL]: runId, [TESTBED_LABEL]: 'remote', [REMOTE_LABEL]: '1' };
}

/** The labels of a local node's sidecar. */
export function localSidecarLabels(runId: string): Record<string, string> {
  return { [RUN_LABEL]: runId, [TESTBED_LABEL]: 'local' };
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
