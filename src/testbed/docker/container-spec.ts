/** A container started detached (what `docker run -d` makes), through the Docker client. */
import type Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';

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

/**
 * Creates and starts a container; returns its ID. `signal` is checked before each of the two
 * engine calls, never used to cut one off: the engine finishes a call it received even when
 * the client goes, so a create cut off by Ctrl-C made a container after the cleanup had listed
 * what to remove (a node and its volume left on the host). After `signal`, a container this
 * call created is there to be found, and it throws INTERRUPTED.
 */
export async function runContainer(
  docker: Docker,
  spec: ContainerSpec,
  signal?: AbortSignal,
): Promise<string> {
  const checkAborted = () => {
    if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', `interrupted before starting ${spec.name}`);
  };
  checkAborted();
  // _query and _body (docker-modem): the name in the query, the spec in the body, nothing twice
  const container = await docker.createContainer({
    _query: { name: spec.name },
    _body: createContainerBody(spec),
  } as Docker.ContainerCreateOptions);
  checkAborted();
  try {
    await container.start();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 304) throw error;
  }
  return container.id;
}
