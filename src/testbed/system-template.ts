/**
 * What a generated node of a system looks like (`--committee N` / `--committees`, with
 * `--system NAME`): its image, the protocol it speaks, its container ports and its environment.
 * The reference node's is built in; any other system declares its own in its folder
 * (`systems/<name>/system.json`, docs/architecture.md "A system under test"), so a generated
 * network of libp2p peers in a star is one flag, and the tool names no system.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { MeshbenchError } from '../common/errors.js';
import { PROTOCOL_LABEL } from '../common/labels.js';
import { packageRoot } from '../common/package-root.js';
import { loadYaml } from '../common/yaml.js';
import { shippedImage } from './docker/ensure-image.js';
import { labelsOf } from './local/compose-file.js';

import { REFNODE_TEMPLATE, type NodeTemplate } from './node-template.js';

const port = z.number().int().min(1).max(65535);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'an environment variable name' });
const manifestSchema = z
  .object({
    image: z.string().min(1),
    protocol: z.string().min(1),
    ports: z.object({ rpc: port, p2p: port, metrics: port.optional() }).strict(),
    environment: z.record(z.string(), z.string()).default({}),
    health: z.string().startsWith('/').default('/health'),
    healthcheck: z
      .union([
        z.enum(['node', 'none']),
        z
          .array(z.string().min(1))
          .min(2)
          .refine((test) => test[0] === 'CMD' || test[0] === 'CMD-SHELL', {
            message: "a health check starts with CMD or CMD-SHELL (compose's test form)",
          }),
      ])
      .optional(),
    portVariables: z
      .object({ rpc: envName.optional(), p2p: envName.optional(), metrics: envName.optional() })
      .strict()
      .optional(),
  })
  .strict();

/** The file a system folder declares its generated nodes in. */
export const SYSTEM_MANIFEST = 'system.json';

/**
 * `--system NAME|PATH`: a folder of meshbench's systems/ by name, or a folder (or its
 * system.json) by path. One line naming the problem when it is not there or not valid.
 */
export function loadSystemTemplate(given: string, cwd: string = process.cwd()): NodeTemplate {
  if (given === 'refnode') return REFNODE_TEMPLATE;
  const root = packageRoot();
  const candidates = [
    resolve(cwd, given),
    ...(root !== undefined && /^[a-z0-9][a-z0-9._-]*$/i.test(given) ? [join(root, 'systems', given)] : []),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    const known = root === undefined ? [] : systemsWithManifest(join(root, 'systems'));
    throw new MeshbenchError('BAD_FLAG', `--system ${given}: no such system`, {
      hint: `give one of ${[...new Set(['refnode', ...known])].join(', ')}, or a folder with a ${SYSTEM_MANIFEST}`,
    });
  }
  const file = statSync(found).isDirectory() ? join(found, SYSTEM_MANIFEST) : found;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new MeshbenchError('BAD_FLAG', `--system ${given}: ${file} is missing`, {
      hint: `a system folder declares its generated nodes in ${SYSTEM_MANIFEST} (docs/architecture.md, "A system under test")`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MeshbenchError(
      'BAD_FLAG',
      `--system ${given}: ${file} is not JSON (${(error as Error).message})`,
      {
        hint: 'fix the file',
      },
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new MeshbenchError(
      'BAD_FLAG',
      `--system ${given}: ${file}: ${where}: ${issue?.message ?? 'not valid'}`,
      {
        hint: 'give image, protocol, ports {rpc, p2p, metrics?}, and optionally environment, health, healthcheck ("node", "none" or ["CMD", …]) and portVariables {rpc?, p2p?, metrics?}',
      },
    );
  }
  const name = statSync(found).isDirectory() ? given.replace(/\/+$/, '').split('/').at(-1) : given;
  return {
    name: name ?? given,
    image: parsed.data.image,
    protocol: parsed.data.protocol,
    ports: parsed.data.ports,
    environment: parsed.data.environment,
    health: parsed.data.health,
    // node in the container only where it is known to be there: meshbench's own images (in a
    // user's image without /usr/local/bin/node the check failed each time, and Docker marks a
    // container unhealthy after 3 failures)
    healthcheck: parsed.data.healthcheck ?? (shippedImage(parsed.data.image) ? 'node' : 'none'),
    peersAlways: true,
    ...(parsed.data.portVariables ? { portVariables: parsed.data.portVariables } : {}),
  };
}

/**
 * A message's fix for a load of `protocol` that the nodes at hand do not answer: `run nodes that
 * speak X: …`, naming meshbench's systems/ whose nodes speak it (their system.json says so) or,
 * when none does, the compose files there whose services' meshbench.protocol label says so (as
 * paths from `cwd` when below it, else in full). `systemNeeds` follows a system (local-network
 * needs `with --committee N`), `composeNeeds` follows a compose file (` with --engine swarm` on
 * hosts), and `endpoints` adds attaching to a running network.
 */
export async function speakingFix(
  protocol: string,
  options: {
    readonly cwd?: string;
    readonly systemNeeds?: string;
    readonly composeNeeds?: string;
    readonly endpoints?: boolean;
  } = {},
): Promise<string> {
  const root = packageRoot();
  const dir = root === undefined ? undefined : join(root, 'systems');
  const systems =
    root === undefined || dir === undefined
      ? []
      : systemsWithManifest(dir).filter((name) => {
          try {
            return loadSystemTemplate(name, root).protocol === protocol;
          } catch {
            return false;
          }
        });
  const compose = options.composeNeeds ?? '';
  const composeFiles =
    systems.length === 0 && dir !== undefined
      ? await composeFilesSpeaking(dir, protocol, options.cwd ?? process.cwd())
      : [];
  const ways = [
    ...(systems.length > 0 ? [`--system ${systems.join(' or ')}${options.systemNeeds ?? ''}`] : []),
    composeFiles.length > 0
      ? `--docker-compose-path ${composeFiles.join(' or ')}${compose} (or a compose file of yours)`
      : `a compose file of them (--docker-compose-path${compose})`,
    ...(options.endpoints ? ['a running network (--endpoints)'] : []),
  ];
  return `run nodes that speak ${protocol}: ${ways.join(', ')}`;
}

/** The compose files of systems/ whose services are labelled with `protocol`, from `cwd` when below it. */
async function composeFilesSpeaking(dir: string, protocol: string, cwd: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const { parse } = await loadYaml();
  return names
    .map((name) => join(dir, name, 'docker-compose.yml'))
    .filter((file) => composeLabels(file, parse).includes(protocol))
    .map((file) => {
      const from = relative(cwd, file);
      return from.startsWith('..') || isAbsolute(from) ? file : from;
    });
}

/** The meshbench.protocol labels of a compose file's services (none when it is missing or not YAML). */
function composeLabels(file: string, parse: (text: string) => unknown): string[] {
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  const services = (document as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null) return [];
  return Object.values(services).flatMap((service) => {
    const value = labelsOf((service as { labels?: unknown } | null)?.labels)[PROTOCOL_LABEL];
    return value === undefined ? [] : [value];
  });
}

function systemsWithManifest(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => existsSync(join(dir, name, SYSTEM_MANIFEST)));
  } catch {
    return [];
  }
}
