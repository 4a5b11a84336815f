/**
 * After compose up: each node service's containers found by the run's project label and
 * inspected, a container that died before it was ready named with its last log line, how
 * the generator reaches the nodes chosen (their own addresses, or the published ports), and
 * a node handle with its endpoint for each.
 */
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';
import { containerLogs } from '../docker/logs.js';
import { COMPOSE_NUMBER_LABEL, COMPOSE_SERVICE_LABEL, localSidecarLabels } from '../docker/labels.js';
import { ContainerNodeHandle } from '../docker/node-handle.js';
import { ReadinessError } from '../readiness.js';
import type { Endpoint } from '../testbed.js';
import type { ComposeNodeSpec } from './compose-file.js';
import type { LocalProject } from './local-deployment.js';
import { chooseNodeAccess, engineIsLocal, type NodeAccess, type NodeAccessMode } from './node-access.js';
import { COMPOSE_PROJECT_LABEL } from './teardown.js';

/** `node n1 exited (exit code 2) before it was ready: <its last log line>` */
export function deathMessage(nodeId: string, status: string, exitCode: number, logs: string): string {
  const tail = logs.trim().split('\n').at(-1)?.trim().slice(0, 200) ?? '';
  return `node ${nodeId} ${status} (exit code ${exitCode}) before it was ready${tail ? `: ${tail}` : ''}`;
}

export async function resolveNodes(
  docker: Docker,
  specs: readonly ComposeNodeSpec[],
  project: Pick<LocalProject, 'projectName' | 'runId'>,
  options: {
    readonly nodeAccess: NodeAccessMode;
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly log: (line: string) => void;
  },
): Promise<{ handles: ContainerNodeHandle[]; access: NodeAccess; accessReason: string }> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${COMPOSE_PROJECT_LABEL}=${project.projectName}`] },
  });
  // Every node container at once (one engine round trip each, concurrently).
  const services = new Set(specs.map((spec) => spec.service));
  const inspected = new Map(
    await Promise.all(
      containers
        .filter((container) => services.has(container.Labels[COMPOSE_SERVICE_LABEL] ?? ''))
        .map(async (container) => [container.Id, await docker.getContainer(container.Id).inspect()] as const),
    ),
  );
  const found: {
    spec: ComposeNodeSpec;
    nodeId: string;
    containerId: string;
    info: ContainerInspectInfo;
  }[] = [];
  for (const spec of specs) {
    const mine = containers
      .filter((container) => container.Labels[COMPOSE_SERVICE_LABEL] === spec.service)
      .sort((a, b) => Number(a.Labels[COMPOSE_NUMBER_LABEL]) - Number(b.Labels[COMPOSE_NUMBER_LABEL]));
    if (mine.length === 0) {
      throw new MeshbenchError('NOT_READY', `service ${spec.service} has no container after compose up`, {
        hint: 'check the compose file (scale, profiles: set COMPOSE_PROFILES) and the engine log',
      });
    }
    for (const container of mine) {
      const nodeId =
        mine.length === 1 ? spec.service : `${spec.service}-${container.Labels[COMPOSE_NUMBER_LABEL]}`;
      const info = inspected.get(container.Id) ?? (await docker.getContainer(container.Id).inspect());
      if (info.State.Status === 'exited' || info.State.Status === 'dead') {
        // It died before its ports could be read: say so, with its last words.
        const logs = await containerLogs(docker, container.Id, 5).catch(() => '');
        options.log(`--- ${nodeId}: last log lines ---\n${logs.trimEnd() || '(none)'}`);
        throw new ReadinessError(
          deathMessage(nodeId, info.State.Status, info.State.ExitCode, logs),
          'see the node logs above (or use --logs DIR)',
          [nodeId],
        );
      }
      found.push({ spec, nodeId, containerId: container.Id, info });
    }
  }

  // A node on the host's own network (network_mode: host) has no address of its own and
  // publishes nothing: it serves on this machine's loopback at its container ports.
  const onHostNetwork = (info: ContainerInspectInfo) => info.HostConfig?.NetworkMode === 'host';
  const hostNetworked = found.filter(({ info }) => onHostNetwork(info));
  if (hostNetworked.length > 0 && !engineIsLocal(options.env))
    throw new MeshbenchError(
      'NOT_READY',
      `service ${hostNetworked[0]!.spec.service} uses the host's network of a Docker engine on another machine (DOCKER_HOST ${options.env.DOCKER_HOST}), which this machine cannot reach it on`,
      {
        hint: 'run it on a network of the project with its RPC port published, or run local-network on that machine',
      },
    );
  const bridged = found.filter(({ info }) => !onHostNetwork(info));
  const chosen = chooseNodeAccess(
    options.nodeAccess,
    bridged.map(({ nodeId, info }) => ({
      nodeId,
      addresses: Object.keys(info.NetworkSettings.Networks ?? {})
        .sort()
        .map((name) => info.NetworkSettings.Networks[name]?.IPAddress ?? '')
        .filter(Boolean),
    })),
    { env: options.env },
  );
  const choice =
    bridged.length > 0 || 'error' in chosen
      ? chosen
      : {
          ...chosen,
          access: 'direct' as const,
          reason:
            "the nodes use this host's network: reached on loopback at their own ports, no docker-proxy",
        };
  if ('error' in choice) {
    throw new MeshbenchError('NOT_READY', `--node-access direct is not possible here: ${choice.error}`, {
      hint: 'use --node-access published (or auto)',
    });
  }

  const handles = found.map(({ spec, nodeId, containerId, info }) => {
    const direct = onHostNetwork(info) ? '127.0.0.1' : choice.directAddress.get(nodeId);
    const address = (containerPort: number | undefined) => {
      if (containerPort === undefined) return undefined;
      if (direct) return `${direct}:${containerPort}`;
      const binding = info.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.[0];
      if (!binding?.HostPort) return undefined;
      const ip =
        binding.HostIp && binding.HostIp !== '0.0.0.0' && binding.HostIp !== '::'
          ? binding.HostIp
          : '127.0.0.1';
      return `${ip.includes(':') ? `[${ip}]` : ip}:${binding.HostPort}`;
    };
    const rpc = address(spec.rpcContainerPort);
    if (!rpc) {
      throw new MeshbenchError(
        'NOT_READY',
        `service ${spec.service} publishes no host port for RPC port ${spec.rpcContainerPort} (${choice.reason})`,
        { hint: `publish it (ports: ["127.0.0.1::${spec.rpcContainerPort}"])` },
      );
    }
    const metrics = address(spec.metricsContainerPort);
    const endpoint: Endpoint = {
      nodeId,
      rpcUrl: `http://${rpc}`,
      wsUrl: `ws://${rpc}/websocket`,
      ...(metrics ? { metricsUrl: `http://${metrics}/metrics` } : {}),
      host: 'local',
      clockOffsetMs: 0, // a container shares this machine's kernel clock
    };
    return new ContainerNodeHandle({
      docker,
      nodeId,
      service: spec.service,
      containerId,
      endpoint,
      sidecarLabels: localSidecarLabels(project.runId),
      ...(onHostNetwork(info) ? { onThisMachinesNetwork: true } : {}),
    });
  });
  return { handles, access: choice.access, accessReason: choice.reason };
}
