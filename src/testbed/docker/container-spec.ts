/** A container started detached (what `docker run -d` makes), through the Docker client. */
import type Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';
import { trace } from '../../common/trace.js';
import { durationText } from '../../common/duration-text.js';

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  /** `host` for remote nodes. */
  readonly networkMode: string;
  /** A named volume, created with these labels when missing. */
  readonly volume?: {
    readonly name: string;
    readonly target: string;
    readonly labels: Readonly<Record<string, string>>;
  };
}

/** The body of POST /containers/create for a spec (the same container `docker run -d` makes). */
export function createContainerBody(spec: ContainerSpec): Record<string, unknown> {
  return {
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: { ...spec.labels },
    HostConfig: {
      NetworkMode: spec.networkMode,
      RestartPolicy: { Name: 'no' },
      ...(spec.volume
        ? {
            Mounts: [
              {
                Type: 'volume',
                Source: spec.volume.name,
                Target: spec.volume.target,
                VolumeOptions: { Labels: { ...spec.volume.labels } },
              },
            ],
          }
        : {}),
    },
  };
}

/** How long an engine call in flight at an interruption is still waited for (see runContainer). */
export const INTERRUPTED_CALL_GRACE_MS = 30_000;

/**
 * `call`, but once `signal` aborts, waited for `graceMs` more at most: past that it is given up
 * on (the request stays open; the engine may still carry it out) with INTERRUPTED.
 */
async function withinGrace<T>(
  call: Promise<T>,
  signal: AbortSignal | undefined,
  graceMs: number,
  late: () => MeshbenchError,
): Promise<T> {
  if (signal === undefined) return call;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const givenUp = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(late()), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call, givenUp]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Creates and starts a container; returns its ID. `signal` is checked before each of the two
 * engine calls, and does not cut one off at once: the engine finishes a call it received even
 * when the client goes, so a create cut off by Ctrl-C made a container after the cleanup had
 * listed what to remove (a node and its volume left on the host). After `signal`, a container
 * this call created is there to be found, and it throws INTERRUPTED. A call the engine has not
 * answered `graceMs` after `signal` is given up on (a stop must not wait on a stalled engine:
 * CI saw remote-network wait out its 2-minute bound after a Ctrl-C there), saying which
 * container may still appear.
 */
export async function runContainer(
  docker: Docker,
  spec: ContainerSpec,
  signal?: AbortSignal,
  graceMs = INTERRUPTED_CALL_GRACE_MS,
): Promise<string> {
  const checkAborted = () => {
    if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', `interrupted before starting ${spec.name}`);
  };
  const late = (what: string) => () =>
    new MeshbenchError(
      'INTERRUPTED',
      `interrupted while ${what} ${spec.name}, and the engine had not answered ${durationText(graceMs)} later`,
      { hint: `if ${spec.name} appears there, remove it with --down (it carries the run's labels)` },
    );
  checkAborted();
  // _query and _body (docker-modem): the name in the query, the spec in the body, nothing twice
  trace(`container ${spec.name}: create`);
  const container = await withinGrace(
    docker.createContainer({
      _query: { name: spec.name },
      _body: createContainerBody(spec),
    } as Docker.ContainerCreateOptions),
    signal,
    graceMs,
    late('creating'),
  );
  checkAborted();
  trace(`container ${spec.name}: start`);
  try {
    await withinGrace(container.start(), signal, graceMs, late('starting'));
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 304) throw error;
  }
  return container.id;
}
