/**
 * The local testbed: a node network on this machine's Docker engine, started with
 * the compose CLI (one project per run, every object labelled `meshbench.run=<id>`
 * through an override file), watched and controlled through dockerode.
 *
 * deploy(): check input and machine (file, engine, compose CLI, memory, images,
 * ports) → write the run folder → compose up → resolve endpoints → wait until every
 * node is ready. Any failure after `up` started removes what it created.
 */
import { randomInt } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { MeshbenchError, isMeshbenchError } from '../../common/errors.js';
import { makeDirs } from '../../common/make-dirs.js';
import { newRunId } from '../../common/run-id.js';
import {
  labelComposeProject,
  nameBuiltImages,
  nodeContainerCount,
  readComposeModel,
  type ComposeModel,
} from './compose-file.js';
import {
  REFNODE_IMAGE,
  refnodeCompose,
  separateMetricsPort,
  refnodeNodeId,
  renderCompose,
  SEED_METRICS_BASE_PORT,
  SEED_RPC_BASE_PORT,
} from './compose-generate.js';
import { topologyDegrees, topologyRecord, type TopologySpec } from '../topology.js';
import { describeRemoval } from '../testbed.js';
import type { ForcedRemoval, Testbed } from '../testbed.js';
import {
  canGateComposeUp,
  composeErrorLine,
  composeErrorLines,
  composeUp,
  detectCompose,
  PIPED_COMPOSE_FILE,
  startGatedComposeUp,
  stopComposeUps,
  type ComposeCli,
} from './compose-cli.js';
import { readUserCompose } from './user-compose.js';
import { localDocker } from '../docker/connection.js';
import { EngineApi } from '../docker/engine-reads.js';
import { checkEngine, checkImages, type EngineFacts } from './engine-checks.js';
import { availableMemoryBytes, checkMemory, nodeMemoryBytes } from './memory.js';
import { findPortConflicts, pickFreePorts, type PortConflict } from './ports.js';
import { probeForProtocol, ReadinessError, waitForReady } from '../readiness.js';
import { projectNameOf, removeRun, removeRunUntilQuiet } from './teardown.js';
import type { NodeAccessMode } from './node-access.js';
import { trace } from '../../common/trace.js';
import type { NodeTemplate } from '../node-template.js';
import { DEFAULT_RUNS_DIR, defaultComposePath } from './compose-paths.js';
import { LocalDeployment, type LocalProject } from './local-deployment.js';
import { deathMessage, resolveNodes } from './resolve-nodes.js';

export {
  DEFAULT_CACHE_DIR,
  DEFAULT_COMPOSE_PATH,
  DEFAULT_RUNS_DIR,
  defaultComposePath,
  movedComposeFile,
  SEED_COMPOSE_PATH,
} from './compose-paths.js';
export { LocalDeployment, type LocalProject } from './local-deployment.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The one file compose runs (in the run folder): the user's project as compose resolved
 * it, or the generated committee, with every object labelled for the run. JSON, which
 * compose reads as YAML, so no string can be read back as another type.
 */
const PROJECT_FILE = 'compose.resolved.json';
/** A generated committee that lost its ports looks again from 26657 plus up to this (below the ephemeral range). */
const RETRY_PORT_SPREAD = 4000;
const GENERATED_FILE = 'docker-compose.yml';

export interface LocalTestbedOptions {
  /** The compose file(s) to run, merged as compose merges several `-f` files (ignored when `committee` is set). */
  readonly composePath?: string | readonly string[];
  /** Generate a project of this many reference nodes instead of reading a file. */
  readonly committee?: number;
  readonly runId?: string;
  /** Parent of the run folders (`<runsDir>/<runId>` holds the generated files). */
  readonly runsDir?: string;
  /** Protocol of nodes without a `meshbench.protocol` label. */
  readonly protocol?: string;
  /** Longest wait for readiness after compose up. */
  readonly startupTimeoutMs?: number;
  /** The system a generated committee is made of (`--system`); default the reference node. */
  readonly system?: NodeTemplate;
  /** Node image for a generated committee. */
  readonly image?: string;
  /** Extra REFNODE_* environment for a generated committee. */
  readonly nodeEnvironment?: Readonly<Record<string, string>>;
  /** Who connects to whom in a generated committee (--topology); absent: a full mesh. */
  readonly topology?: TopologySpec;
  readonly env?: Env;
  readonly log?: (line: string) => void;
  /** `performance.now()` at command start, so readyAfterMs covers everything. */
  readonly startedAtMs?: number;
  readonly docker?: Docker;
  /**
   * How the generator, readiness and monitoring reach the nodes: `direct` at each
   * container's own address on the compose network (no docker-proxy in the path),
   * `published` through the host ports, `auto` (default) direct where this host
   * routes to the network, else published.
   */
  readonly nodeAccess?: NodeAccessMode;
  /** Where `compose config` answers are cached (default .meshbench/cache; null: no cache). */
  readonly cacheDir?: string | null;
}

/** What #prepare found and wrote: everything compose up needs. */
interface Prepared {
  readonly path: string;
  readonly model: ComposeModel;
  readonly engine: EngineFacts;
  readonly cli: ComposeCli;
  readonly imageIds: Record<string, string>;
  readonly project: LocalProject;
  /** Host ports of a generated committee. */
  readonly usedPorts: number[];
  /** Generates a committee's compose file again on other free ports (after a lost race). */
  readonly generate: (avoid: ReadonlySet<number>, retry?: boolean) => Promise<number[] | undefined>;
  /** The one file compose runs (also on disk in the run folder); a gated compose up reads it from its pipe. */
  readonly pipedText: string;
  /** The images compose up builds (with --build, when a service builds without naming its image: nameBuiltImages). */
  readonly built: readonly string[];
}

interface LoadedModel {
  /** The compose files as shown in messages. */
  readonly path: string;
  readonly model: ComposeModel;
  /** The user's project as compose resolved it (undefined for a generated committee). */
  readonly project: Record<string, unknown> | undefined;
}

/** Where a run's generated files go. */
export function runDirOf(runsDir: string, runId: string): string {
  return join(runsDir, runId);
}

function describeConflicts(
  conflicts: readonly PortConflict[],
  generated: boolean,
  path: string,
): MeshbenchError {
  const [first, ...rest] = conflicts;
  if (!first) throw new Error('no conflicts');
  const more = rest.length > 0 ? ` (and ${rest.map((conflict) => conflict.hostPort).join(', ')})` : '';
  const hint = first.holder.includes('meshbench run')
    ? `tear that network down with: local-network --down ${/run (\S+)/.exec(first.holder)?.[1] ?? ''}`.trim()
    : generated
      ? 'stop that process and retry'
      : `stop that process, or change the port in ${path}, or use --committee N (which picks free ports)`;
  return new MeshbenchError(
    'PORT_IN_USE',
    `port ${first.hostPort} (service ${first.service}) is in use by ${first.holder}${more}`,
    { hint },
  );
}

export class LocalTestbed implements Testbed {
  readonly kind = 'local' as const;
  readonly options: LocalTestbedOptions;
  /** The run id of the current (or next) deploy; each deploy after the first gets a new one. */
  runId: string;
  #deployed = false;
  readonly #env: Env;
  readonly #api: EngineApi;
  #docker: Promise<Docker> | undefined;
  readonly #log: (line: string) => void;

  constructor(options: LocalTestbedOptions = {}) {
    this.options = options;
    this.runId = options.runId ?? newRunId();
    this.#env = options.env ?? process.env;
    this.#api = EngineApi.fromEnv(this.#env);
    if (options.docker) this.#docker = Promise.resolve(options.docker);
    this.#log = options.log ?? (() => undefined);
  }

  /** The dockerode client (imported on first use). */
  getDocker(): Promise<Docker> {
    this.#docker ??= localDocker(this.#env);
    return this.#docker;
  }

  /** The user's compose files, resolved against the working directory. */
  #composePaths(): string[] {
    const given = this.options.composePath ?? defaultComposePath();
    return (typeof given === 'string' ? [given] : [...given]).map((path) => resolve(path));
  }

  /**
   * The committee's project (planned on placeholder ports), or the user's files as the
   * compose tool resolves them (cached), labelled for the run. No engine needed.
   */
  async #loadModel(cliPromise: Promise<ComposeCli>): Promise<LoadedModel> {
    if (this.options.committee !== undefined) {
      const placeholder = Array.from({ length: this.options.committee }, () => 1);
      const project = refnodeCompose({
        committee: this.options.committee,
        ...(this.options.system ? { system: this.options.system } : {}),
        image: this.options.image ?? this.options.system?.image ?? REFNODE_IMAGE,
        rpcHostPorts: placeholder,
        metricsHostPorts: placeholder,
        ...(this.options.nodeEnvironment ? { environment: this.options.nodeEnvironment } : {}),
        ...(this.options.topology ? { topology: this.options.topology } : {}),
      });
      return { path: '(generated)', model: readComposeModel(project, '(generated)'), project: undefined };
    }
    const { shown, model, project } = await readUserCompose({
      files: [this.options.composePath ?? defaultComposePath()].flat(),
      protocol: this.options.protocol,
      env: this.#env,
      cacheDir: this.options.cacheDir,
      cli: cliPromise,
    });
    return { path: shown, model, project };
  }

  /** Checks input and machine, and writes the run's files: everything before compose up. */
  async #prepare(init: {
    runDir: string;
    projectFile: string;
    projectDirectory: string;
    projectName: string;
    cliPromise: Promise<ComposeCli>;
    signal: AbortSignal | undefined;
  }): Promise<Prepared> {
    const { runDir, projectFile, projectDirectory, projectName, cliPromise, signal } = init;
    const committee = this.options.committee;
    // Input and machine checks, concurrently; errors reported in a fixed order.
    const [modelResult, engineResult, cliResult, memoryResult] = await Promise.allSettled([
      this.#loadModel(cliPromise),
      checkEngine(this.#api, this.#env),
      cliPromise,
      availableMemoryBytes(),
    ]);
    for (const result of [modelResult, engineResult, cliResult, memoryResult]) {
      if (result.status === 'rejected') throw result.reason;
    }
    trace('deploy: checks done');
    const { path, model, project: resolved } = (modelResult as PromiseFulfilledResult<LoadedModel>).value;
    const engine = (engineResult as PromiseFulfilledResult<EngineFacts>).value;
    const cli = (cliResult as PromiseFulfilledResult<ComposeCli>).value;
    checkMemory(
      nodeContainerCount(model),
      (memoryResult as PromiseFulfilledResult<number>).value,
      nodeMemoryBytes(this.#env),
    );
    if (this.options.nodeAccess === 'published') {
      const unpublished = model.nodes.find((node) => !node.publishesRpc);
      if (unpublished) {
        throw new MeshbenchError(
          'COMPOSE_FILE',
          `compose file ${path}: service ${unpublished.service} does not publish its RPC port ${unpublished.rpcContainerPort}, which --node-access published needs`,
          {
            hint: `add ports: ["127.0.0.1::${unpublished.rpcContainerPort}"] to it, or leave --node-access at auto`,
          },
        );
      }
    }

    const imageIds = await checkImages(
      this.#api,
      model.services.map((service) => ({
        service: service.name,
        image: service.image,
        hasBuild: service.hasBuild,
      })),
      this.#log,
    );
    let projectText = '';
    /**
     * Writes the generated project on ports that are free now. After a lost race (`retry`) it
     * looks from a random start instead of 26657: two runs that lost to each other otherwise walk
     * the same ports again (CI #105: 3 attempts, 3 collisions).
     */
    const generate = async (avoid: ReadonlySet<number>, retry = false) => {
      if (committee === undefined) return;
      const from = retry ? SEED_RPC_BASE_PORT + randomInt(RETRY_PORT_SPREAD) : SEED_RPC_BASE_PORT;
      const rpc = await pickFreePorts(this.#api, committee, from, avoid);
      // a system serving its metrics on its RPC port publishes one port per node
      const metrics = separateMetricsPort(this.options.system)
        ? await pickFreePorts(
            this.#api,
            committee,
            Math.max(SEED_METRICS_BASE_PORT, (rpc.at(-1) ?? SEED_RPC_BASE_PORT) + 1),
            new Set([...avoid, ...rpc]),
          )
        : rpc;
      const text = await renderCompose(
        labelComposeProject(
          refnodeCompose({
            committee,
            ...(this.options.system ? { system: this.options.system } : {}),
            image: this.options.image ?? this.options.system?.image ?? REFNODE_IMAGE,
            rpcHostPorts: rpc,
            metricsHostPorts: metrics,
            ...(this.options.nodeEnvironment ? { environment: this.options.nodeEnvironment } : {}),
            ...(this.options.topology ? { topology: this.options.topology } : {}),
          }),
          this.runId,
        ),
        `Generated by local-network --committee ${committee} for run ${this.runId}.`,
      );
      await makeDirs(runDir);
      // Plain writes: the run folder is new and these files are rewritten on every run (no fsync on the start-up path).
      await writeFile(projectFile, text);
      projectText = text;
      return [...new Set([...rpc, ...metrics])];
    };
    let usedPorts: number[] = [];
    if (committee !== undefined) {
      usedPorts = (await generate(new Set())) ?? [];
    } else {
      const needs = model.publishedPorts.flatMap((port) =>
        port.hostPort === undefined ? [] : [{ ...port, hostPort: port.hostPort }],
      );
      const conflicts = await findPortConflicts(this.#api, needs);
      if (conflicts.length > 0) throw describeConflicts(conflicts, false, path);
    }

    if (signal?.aborted) throw new MeshbenchError('INTERRUPTED', 'interrupted before the network started');
    let built: string[] = [];
    if (committee === undefined && resolved) {
      await makeDirs(runDir);
      const { project: named, named: services, images } = nameBuiltImages(resolved, projectDirectory);
      // --build (when a service was named here) builds every service that has build:
      if (services.length > 0) built = [...images];
      projectText = `${JSON.stringify(labelComposeProject(named, this.runId), null, 2)}\n`;
      await writeFile(projectFile, projectText);
    }
    const project: LocalProject = {
      runId: this.runId,
      runDir,
      composePaths: committee !== undefined ? [projectFile] : this.#composePaths(),
      generated: committee !== undefined,
      projectName,
      projectDirectory,
      files: [projectFile],
    };
    return {
      path,
      model,
      engine,
      cli,
      imageIds,
      project,
      usedPorts,
      generate,
      pipedText: projectText,
      built,
    };
  }

  async deploy(options: { signal?: AbortSignal } = {}): Promise<LocalDeployment> {
    const startedAtMs = (this.#deployed ? undefined : this.options.startedAtMs) ?? performance.now();
    trace('deploy: start');
    if (this.#deployed) this.runId = newRunId();
    this.#deployed = true;
    const signal = options.signal;
    const committee = this.options.committee;
    if (committee !== undefined && (!Number.isInteger(committee) || committee < 1)) {
      throw new MeshbenchError(
        'BAD_FLAG',
        `--committee ${committee} is not valid: it must be a whole number >= 1`,
        {
          hint: 'use --committee 4 for the seed network',
        },
      );
    }

    // A committee the machine cannot hold is refused before anything is generated.
    if (committee !== undefined)
      checkMemory(committee, await availableMemoryBytes(), nodeMemoryBytes(this.#env));

    const runDir = resolve(runDirOf(this.options.runsDir ?? DEFAULT_RUNS_DIR, this.runId));
    const projectFile = join(runDir, committee !== undefined ? GENERATED_FILE : PROJECT_FILE);
    const projectDirectory = committee !== undefined ? runDir : dirname(this.#composePaths()[0] ?? '.');
    const projectName = projectNameOf(this.runId);
    const cliPromise = detectCompose(this.#env);
    // compose v1 starts now and does its slow start-up while the checks run; it waits for the
    // file on its pipe until they pass (startGatedComposeUp), and exits untouched if one fails.
    // Awaited before the checks start, so their synchronous set-up does not delay the spawn
    // (the compose lookup is a few sync file-system calls).
    const gate = await cliPromise.then(
      (cli) => {
        if (!canGateComposeUp(cli)) return undefined;
        trace('deploy: compose up spawned (gated)');
        return startGatedComposeUp(
          cli,
          { projectName, projectDirectory, files: [PIPED_COMPOSE_FILE] },
          this.#env,
        );
      },
      () => undefined,
    );
    let prepared: Prepared;
    try {
      prepared = await this.#prepare({
        runDir,
        projectFile,
        projectDirectory,
        projectName,
        cliPromise,
        signal,
      });
    } catch (error) {
      await gate?.cancel();
      throw error;
    }
    const { path, model, engine, cli, imageIds, project, pipedText } = prepared;
    const usedPorts = prepared.usedPorts;
    const phasesMs = { checks: 0, composeUp: 0, ready: 0 };
    // An interrupt stops compose up at once (it runs in its own process group); the catch below removes what it made.
    const stopUp = () => void stopComposeUps();
    signal?.addEventListener('abort', stopUp, { once: true });
    if (signal?.aborted) {
      // after the checks and before the listener: nothing has started
      await gate?.cancel();
      throw new MeshbenchError('INTERRUPTED', 'interrupted before the network started');
    }

    try {
      const containers = nodeContainerCount(model);
      this.#log(
        `starting ${containers} node${containers === 1 ? '' : 's'} (compose project ${project.projectName}, ${cli.command.join(' ')} ${cli.version})`,
      );
      const upStartedMs = performance.now();
      phasesMs.checks = Math.round(upStartedMs - startedAtMs);
      // The gated compose up was spawned without --build: a project that builds starts its own at
      // once (the gated one exits on its empty pipe meanwhile, untouched: waiting cost ~0.4 s).
      const building = prepared.built.length > 0;
      if (building) void gate?.cancel().catch(() => undefined);
      const gated = building ? undefined : gate;
      trace(gated ? 'deploy: compose up released' : 'deploy: compose up spawned');
      const build = { build: building };
      const upPromise = gated ? gated.release(pipedText) : composeUp(cli, project, this.#env, build);
      // dockerode loads while compose starts the containers (off the start-up path).
      const dockerPromise = this.getDocker();
      let up = await upPromise;
      trace('deploy: compose up exited');
      const docker = await dockerPromise;
      trace('deploy: dockerode loaded');
      // A generated committee lost a race for its ports with another run: new ports, again.
      const avoid = new Set(usedPorts);
      for (let attempt = 1; attempt < 3 && committee !== undefined && up.code !== 0; attempt++) {
        if (!/port is already allocated|address already in use/i.test(up.stderr)) break;
        this.#log(
          `a port was taken while starting (${composeErrorLine(up.stderr)}); retrying on other ports`,
        );
        await removeRun(docker, this.runId, { volumes: true });
        for (const port of (await prepared.generate(avoid, true)) ?? []) avoid.add(port);
        up = await composeUp(cli, project, this.#env, build);
      }
      phasesMs.composeUp = Math.round(performance.now() - upStartedMs);
      // the record names the images that ran: the ones this run built, as built
      if (up.code === 0)
        await Promise.all(
          prepared.built.map(async (name) => {
            const info = await this.#api.inspectImage(name).catch(() => undefined);
            if (info) imageIds[name] = info.Id;
          }),
        );
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while the network was starting');
      if (up.code !== 0) {
        const line = composeErrorLine(up.stderr);
        const shown = composeErrorLines(up.stderr);
        if (shown.length > 1) for (const text of shown) this.#log(`compose: ${text}`);
        if (/port is already allocated|address already in use/i.test(line)) {
          throw new MeshbenchError('PORT_IN_USE', `a port of ${path} is in use: ${line}`, {
            hint: 'stop what holds it, or change the port',
          });
        }
        throw new MeshbenchError('COMPOSE_FILE', `${cli.command.join(' ')} up failed for ${path}: ${line}`, {
          hint: `fix the compose file; the project compose was given is ${project.files.join(', ')}`,
        });
      }
      if (signal?.aborted)
        throw new MeshbenchError('INTERRUPTED', 'interrupted while the network was starting');

      const {
        handles: nodes,
        access,
        accessReason,
      } = await resolveNodes(docker, model.nodes, project, {
        nodeAccess: this.options.nodeAccess ?? 'auto',
        env: this.#env,
        log: this.#log,
      });
      trace('deploy: nodes resolved');
      this.#log(
        `reaching the nodes ${access === 'direct' ? 'directly' : 'through published ports'} (${accessReason})`,
      );
      const byId = new Map(nodes.map((node) => [node.nodeId, node]));
      const protocolOf = (nodeId: string) =>
        model.nodes.find((spec) => spec.service === byId.get(nodeId)?.service)?.protocol ??
        this.options.protocol ??
        'cometbft';
      const timeoutMs = this.options.startupTimeoutMs ?? 30_000;
      // A generated committee on a partial topology: each node sees its neighbours only.
      const degrees =
        committee !== undefined && this.options.topology
          ? topologyDegrees(this.options.topology, committee)
          : undefined;
      const expectedPeers = (nodeId: string) =>
        degrees?.[Array.from({ length: degrees.length }, (_, i) => refnodeNodeId(i)).indexOf(nodeId)] ??
        nodes.length - 1;
      try {
        await waitForReady({
          targets: nodes.map((node) => ({ nodeId: node.nodeId, rpcUrl: node.endpoint.rpcUrl })),
          probeFor: (target) => probeForProtocol(protocolOf(target.nodeId), expectedPeers(target.nodeId)),
          timeoutMs,
          ...(signal ? { signal } : {}),
          fatal: async () => {
            for (const node of nodes) {
              const state = await node.state();
              if (state.status === 'exited' || state.status === 'dead' || state.status === 'restarting') {
                const logs = await node.logs({ tailLines: 3 }).catch(() => '');
                return deathMessage(node.nodeId, state.status, state.exitCode, logs);
              }
            }
            return undefined;
          },
          describe: async (nodeId) => {
            const node = byId.get(nodeId);
            if (!node) return '';
            const line = (await node.logs({ tailLines: 1 })).trim();
            return line ? `last log: ${line.slice(0, 160)}` : 'no log output';
          },
        });
      } catch (error) {
        const notReady = error instanceof ReadinessError ? error.notReady : [];
        for (const nodeId of notReady) {
          const node = byId.get(nodeId);
          const tail = node ? await node.logs({ tailLines: 5 }).catch(() => '') : '';
          this.#log(`--- ${nodeId}: last log lines ---\n${tail.trimEnd() || '(none)'}`);
        }
        throw error;
      }
      trace('deploy: all ready');
      const readyAfterMs = Math.round(performance.now() - startedAtMs);
      phasesMs.ready = readyAfterMs - phasesMs.checks - phasesMs.composeUp;
      this.#log(
        `phases: checks ${phasesMs.checks} ms, compose up ${phasesMs.composeUp} ms, until ready ${phasesMs.ready} ms`,
      );
      return new LocalDeployment({
        docker,
        project,
        nodes,
        readyAfterMs,
        phasesMs,
        environment: {
          testbed: 'local',
          engineVersion: engine.engineVersion,
          apiVersion: engine.apiVersion,
          os: engine.os,
          hostCpus: engine.cpus,
          hostMemoryBytes: engine.memoryBytes,
          compose: `${cli.command.join(' ')} ${cli.version}`,
          composeFile: committee !== undefined ? `generated (--committee ${committee})` : path,
          nodeAccess: access,
          nodeAccessReason: accessReason,
          composeProject: project.projectName,
          nodeRule: model.nodeRule,
          images: imageIds,
          ...(committee !== undefined && this.options.topology
            ? { topology: topologyRecord(this.options.topology, committee, refnodeNodeId) }
            : {}),
        },
      });
    } catch (error) {
      // Nothing is left half-started.
      if (signal?.aborted) await stopComposeUps();
      // Interrupted: what the killed compose up had asked the engine for may still appear.
      const removal = await (
        signal?.aborted
          ? removeRunUntilQuiet(await this.getDocker(), this.runId, { volumes: true })
          : removeRun(await this.getDocker(), this.runId, { volumes: true })
      ).catch((removalError: unknown) => {
        // a busy engine may not answer the removal: say what is left and how to remove it
        this.#log(
          `cleanup after failure did not finish (${removalError instanceof Error ? removalError.message : String(removalError)}); remove what is left with: local-network --down ${this.runId}`,
        );
        return undefined;
      });
      if (removal && removal.errors.length > 0)
        this.#log(
          `cleanup after failure: ${removal.errors.join('; ')}; remove what is left with: local-network --down ${this.runId}`,
        );
      if (committee !== undefined) await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
      if (signal?.aborted && (!isMeshbenchError(error) || error.code === 'INTERRUPTED')) {
        throw new MeshbenchError(
          'INTERRUPTED',
          `interrupted during start-up; ${removal ? describeRemoval(removal) : 'could not list what to remove'}`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      signal?.removeEventListener('abort', stopUp);
    }
  }

  /** A forced exit: stops compose up and removes everything labelled with the current run. */
  async forceRemove(): Promise<ForcedRemoval> {
    await stopComposeUps();
    // A graceful removal may be under way (a container being stopped holds the network), and
    // what a killed compose up asked for may still appear: again until quiet, for up to 6 s.
    return removeRunUntilQuiet(await this.getDocker(), this.runId, { volumes: true });
  }
}
