/**
 * A user's compose files as the run will use them: checked to exist, resolved by the
 * compose tool itself (cached, src/testbed/local/compose-config.ts) and read into the
 * model of nodes (compose-file.ts). The local testbed deploys from it and the swarm
 * testbed stacks it; the commands read it before they plan, because a file whose nodes
 * say `meshbench.protocol` decides the protocol the load speaks.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MeshbenchError } from '../../common/errors.js';
import { PROTOCOL_LABEL } from '../../common/labels.js';
import { detectCompose, type ComposeCli } from './compose-cli.js';
import { activeComposeProfiles, resolveComposeProject } from './compose-config.js';
import { readComposeModel, type ComposeModel } from './compose-file.js';
import { DEFAULT_CACHE_DIR, movedComposeFile } from './compose-paths.js';
import { trace } from '../../common/trace.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface UserCompose {
  /** The files as the user named them, for messages. */
  readonly shown: string;
  readonly model: ComposeModel;
  /** The project as compose resolved it. */
  readonly project: Record<string, unknown>;
}

export interface UserComposeOptions {
  /** The files as the user named them (resolved against the working directory here). */
  readonly files: readonly string[];
  /** Protocol of nodes without a `meshbench.protocol` label (their default RPC port follows it). */
  readonly protocol?: string | undefined;
  readonly env?: Env;
  /** Where compose's answers are cached; null: not cached. */
  readonly cacheDir?: string | null;
  /** The compose CLI, when the caller has started looking for it already. */
  readonly cli?: Promise<ComposeCli>;
}

/** Throws COMPOSE_FILE with its fix when a named file is missing, a folder or unreadable. */
export async function checkComposeFiles(named: readonly string[]): Promise<void> {
  for (const name of named) {
    const problem = await stat(resolve(name)).then(
      (info) => (info.isDirectory() ? 'is a folder' : undefined),
      (error: NodeJS.ErrnoException) =>
        error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code})`,
    );
    if (!problem) continue;
    const moved = problem === 'does not exist' ? movedComposeFile(name) : undefined;
    throw new MeshbenchError('COMPOSE_FILE', `compose file ${name} ${problem}`, {
      hint:
        moved === undefined
          ? 'pass an existing file with --docker-compose-path, or use --committee N to generate one'
          : `meshbench's file moved to ${moved}: pass that path (or leave --docker-compose-path out for the seed network)`,
    });
  }
}

/** The user's files as compose resolves them, and their nodes. Throws COMPOSE_FILE on one line. */
export async function readUserCompose(options: UserComposeOptions): Promise<UserCompose> {
  const env = options.env ?? process.env;
  const shown = options.files.join(', ');
  await checkComposeFiles(options.files);
  const cli = await (options.cli ?? detectCompose(env));
  const paths = options.files.map((file) => resolve(file));
  const projectDirectory = dirname(paths[0] ?? '.');
  const cacheDir = options.cacheDir === null ? undefined : (options.cacheDir ?? DEFAULT_CACHE_DIR);
  const [resolved, activeProfiles] = await Promise.all([
    resolveComposeProject({ cli, files: paths, projectDirectory, env, cacheDir }),
    activeComposeProfiles(cli, projectDirectory, env),
  ]);
  trace(`compose project resolved${resolved.cached ? ' (cached)' : ''}`);
  const model = readComposeModel(resolved.project, shown, {
    activeProfiles,
    ...(options.protocol ? { protocol: options.protocol } : {}),
  });
  return { shown, model, project: resolved.project };
}

/**
 * The protocol the nodes' `meshbench.protocol` labels call for, for a run given no --protocol:
 * the one every labelled node names (undefined when no node has a label: the command's default
 * then). Labels that disagree are refused on one line (BAD_FLAG, exit 2): the generator speaks
 * one protocol to every node, so the user says which. (Given --protocol, the load speaks it and
 * the labels still say how each node's readiness is checked and where its RPC port is.)
 */
export function labelledProtocol(
  nodes: readonly { readonly service: string; readonly protocol: string | undefined }[],
  source: string,
): string | undefined {
  const byProtocol = new Map<string, string[]>();
  for (const node of nodes) {
    if (!node.protocol) continue;
    byProtocol.set(node.protocol, [...(byProtocol.get(node.protocol) ?? []), node.service]);
  }
  const list = (services: readonly string[]) =>
    services.length > 3
      ? `${services.slice(0, 3).join(', ')} and ${services.length - 3} more`
      : services.join(', ');
  if (byProtocol.size > 1)
    throw new MeshbenchError(
      'BAD_FLAG',
      `compose file ${source} labels its nodes with different protocols (${[...byProtocol].map(([protocol, services]) => `${protocol}: ${list(services)}`).join('; ')}), and the load speaks one to every node`,
      {
        hint: `give every node the same ${PROTOCOL_LABEL} label, or (local-network, benchmark) --protocol to say which`,
      },
    );
  return [...byProtocol.keys()][0];
}

/**
 * The protocol the nodes of the user's compose files call for (see labelledProtocol), read
 * before a run given no --protocol is planned. Throws the one-line errors a deploy of the
 * files would (a missing file, one compose refuses, no nodes).
 */
export async function composeProtocol(
  options: Omit<UserComposeOptions, 'protocol'>,
): Promise<string | undefined> {
  const { model, shown } = await readUserCompose(options);
  return labelledProtocol(model.nodes, shown);
}
