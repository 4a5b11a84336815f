/**
 * A local network that is up: its run, project, nodes and endpoints, this machine as its
 * host, how long it took to start, and its removal (the run's containers, networks and
 * volumes; with thorough, its run folder too).
 */
import { rm } from 'node:fs/promises';
import type Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';
import { releaseDocker } from '../docker/connection.js';
import type { ContainerNodeHandle } from '../docker/node-handle.js';
import { LocalHost } from '../host-files.js';
import type { DestroyOptions, Deployment, Endpoint, HostHandle, LocalEnvironment } from '../testbed.js';
import type { ComposeProjectRef } from './compose-cli.js';
import { removeRun, type RemovalReport } from './teardown.js';

export interface LocalProject extends ComposeProjectRef {
  readonly runId: string;
  readonly runDir: string;
  /** The user's compose files, or the generated one. */
  readonly composePaths: readonly string[];
  readonly generated: boolean;
}

export class LocalDeployment implements Deployment {
  readonly kind = 'local' as const;
  readonly runId: string;
  readonly project: LocalProject;
  readonly nodes: readonly ContainerNodeHandle[];
  readonly endpoints: readonly Endpoint[];
  /** This machine, for monitors. */
  readonly hosts: readonly HostHandle[] = [new LocalHost()];
  readonly environment: LocalEnvironment;
  readonly readyAfterMs: number;
  /** Where the start-up time went: input and machine checks, compose up, waiting for readiness. */
  readonly phasesMs: Readonly<{ checks: number; composeUp: number; ready: number }>;
  readonly #docker: Docker;
  #destroyed: Promise<RemovalReport> | undefined;

  constructor(init: {
    docker: Docker;
    project: LocalProject;
    nodes: readonly ContainerNodeHandle[];
    readyAfterMs: number;
    phasesMs: { checks: number; composeUp: number; ready: number };
    environment: LocalEnvironment;
  }) {
    this.#docker = init.docker;
    this.project = init.project;
    this.runId = init.project.runId;
    this.nodes = init.nodes;
    this.endpoints = init.nodes.map((node) => node.endpoint);
    this.readyAfterMs = init.readyAfterMs;
    this.phasesMs = init.phasesMs;
    this.environment = init.environment;
  }

  /** The run's containers, networks and volumes (anonymous and named); thorough: also the run folder. */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    const report = await this.destroyWithReport(options);
    if (report.errors.length > 0) {
      throw new MeshbenchError(
        'INTERNAL',
        `could not remove everything of run ${this.runId}: ${report.errors.join('; ')}`,
        {
          hint: `retry with: local-network --down ${this.runId}`,
        },
      );
    }
  }

  destroyWithReport(options: DestroyOptions = {}): Promise<RemovalReport> {
    const thorough = options.thorough ?? false;
    const run = async () => {
      // The run's named volumes are its nodes' data, of no use once their containers are gone
      // (an etcd member preallocates about 120 MB): --cleanup removes them too.
      const report = await removeRun(this.#docker, this.runId, { volumes: true });
      if (thorough) await rm(this.project.runDir, { recursive: true, force: true });
      return report;
    };
    // A thorough destroy after a plain one still removes the folder.
    this.#destroyed = thorough || !this.#destroyed ? run() : this.#destroyed;
    return this.#destroyed;
  }

  /**
   * Leaves the network running. The engine client (dockerode) holds no connection of its
   * own: without an agent of its own it uses node's global agent, whose idle sockets do
   * not keep the process alive; an agent it was given is closed here.
   */
  async release(): Promise<void> {
    releaseDocker(this.#docker);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
