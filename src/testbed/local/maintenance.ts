/**
 * `local-network --down | --status | --show-logs`: the networks earlier calls left on this
 * machine's engine, through the same code as the remote testbed's (../docker/).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { MeshbenchError } from '../../common/errors.js';
import { localDocker, releaseDocker } from '../docker/connection.js';
import { testbedSelector } from '../docker/labels.js';
import { containerStatuses, tailLogs } from '../docker/inventory.js';
import type { ContainerLog, ContainerStatus, RemovalSummary, TestbedMaintenance } from '../testbed.js';
import { stopOrphanComposeUps } from './compose-cli.js';
import { listLocalRuns, projectNameOf, removeRunUntilQuiet } from './teardown.js';

export class LocalMaintenance implements TestbedMaintenance {
  /**
   * A run id as given, or the one run on the engine that starts with it (the id printed is
   * long: `20261127-003310-6de973`); several such runs are one line asking for more of it.
   */
  async #resolve(given: string): Promise<string> {
    const runs = await listLocalRuns(this.docker);
    if (runs.includes(given)) return given;
    const matching = runs.filter((run) => run.startsWith(given));
    if (matching.length <= 1) return matching[0] ?? given;
    throw new MeshbenchError(
      'BAD_FLAG',
      `--down ${given}: ${matching.length} runs start with it (${matching.join(', ')})`,
      { hint: 'give more of the run id (local-network --status lists them)', exitCode: 2 },
    );
  }

  constructor(
    readonly docker: Docker,
    /** Where run folders are (`<runsDir>/<runId>`); a removed run's folder goes too. */
    private readonly runsDir?: string,
  ) {}

  static async connect(
    options: { runsDir?: string; env?: Readonly<Record<string, string | undefined>> } = {},
  ): Promise<LocalMaintenance> {
    return new LocalMaintenance(await localDocker(options.env), options.runsDir);
  }

  /** One summary per run: its containers, networks and volumes; with `thorough`, its run folder too. */
  async down(options: { runId?: string; thorough: boolean }): Promise<RemovalSummary[]> {
    const runId = options.runId === undefined ? undefined : await this.#resolve(options.runId);
    // A compose up a killed meshbench left running would create the run again behind the removal.
    const stopped = await stopOrphanComposeUps(runId ? projectNameOf(runId) : undefined);
    if (stopped > 0) await new Promise((done) => setTimeout(done, 200));
    const runIds = runId ? [runId] : await listLocalRuns(this.docker);
    const summaries: RemovalSummary[] = [];
    for (const runId of runIds) {
      const report = await removeRunUntilQuiet(this.docker, runId, {
        volumes: true,
        ...(stopped > 0 ? {} : { quietMs: 0 }), // the default quiet after a killed compose up
      });
      // The run folder (generated compose files) goes too.
      if (this.runsDir !== undefined && options.thorough)
        await rm(join(this.runsDir, runId), { recursive: true, force: true });
      summaries.push({ host: 'local', runId, ...report });
    }
    return summaries;
  }

  status(): Promise<ContainerStatus[]> {
    return containerStatuses(this.docker, testbedSelector('local'), 'local');
  }

  async logs(tailLines: number): Promise<ContainerLog[]> {
    return tailLogs(this.docker, await this.status(), tailLines);
  }

  async close(): Promise<void> {
    releaseDocker(this.docker);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
