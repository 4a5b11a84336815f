/**
 * Who connects to whom in a generated network (`--topology full|star|ring|random:K`):
 * the edges of an undirected graph over node indices 0..n-1. The reference node gets its
 * neighbours as `REFNODE_CONNECT` (it relays consensus messages over the others); any
 * image gets `MESHBENCH_PEERS` (its neighbours' addresses) and `MESHBENCH_BOOTSTRAP` (the
 * hub, node 0). Pure functions: the same spec, size and seed give the same graph.
 */

export type TopologyKind = 'full' | 'star' | 'ring' | 'random';

export interface TopologySpec {
  readonly kind: TopologyKind;
  /** random: each node's number of peers (at least this many; a few get one more when the degrees do not pair up). */
  readonly degree?: number;
  /** random: the seed of the graph (recorded, so a run can be repeated). */
  readonly seed?: number;
}

export const FULL_TOPOLOGY: TopologySpec = { kind: 'full' };

export const TOPOLOGY_RULE = 'full, star, ring or random:K (K peers per node, K >= 1)';

/** `full` → spec, or the rule it broke. */
export function parseTopology(text: string): TopologySpec | { readonly rule: string } {
  const value = text.trim().toLowerCase();
  if (value === 'full' || value === 'star' || value === 'ring') return { kind: value };
  const random = /^random:(\d+)$/.exec(value);
  if (random) {
    const degree = Number(random[1]);
    if (degree >= 1) return { kind: 'random', degree };
  }
  return { rule: TOPOLOGY_RULE };
}

/** The spec as users write it: `random:3`. */
export function topologyName(spec: TopologySpec): string {
  return spec.kind === 'random' ? `random:${spec.degree ?? 1}` : spec.kind;
}

/** Why a spec cannot be laid over n nodes, or undefined when it can; `fix` says what to change. */
export function topologyProblem(
  spec: TopologySpec,
  nodes: number,
  fix = 'give K below the committee',
): string | undefined {
  if (spec.kind === 'random' && nodes > 1 && (spec.degree ?? 1) > nodes - 1)
    return `random:${spec.degree} needs more than ${spec.degree} nodes (got ${nodes}); ${fix}`;
  return undefined;
}

export type Edge = readonly [number, number];

/** The graph's edges, each once as [lower, higher], sorted. Throws when the spec does not fit n nodes. */
export function topologyEdges(spec: TopologySpec, nodes: number): Edge[] {
  const problem = topologyProblem(spec, nodes);
  if (problem) throw new Error(problem);
  const edges = new EdgeSet(nodes);
  if (spec.kind === 'full') {
    for (let a = 0; a < nodes; a++) for (let b = a + 1; b < nodes; b++) edges.add(a, b);
  } else if (spec.kind === 'star') {
    for (let leaf = 1; leaf < nodes; leaf++) edges.add(0, leaf);
  } else if (spec.kind === 'ring') {
    for (let a = 0; a < nodes && nodes > 1; a++) edges.add(a, (a + 1) % nodes);
  } else {
    randomEdges(edges, nodes, spec.degree ?? 1, mulberry32(spec.seed ?? 0));
  }
  return edges.sorted();
}

/** Each node's neighbours (indices, ascending). */
export function neighbourLists(edges: readonly Edge[], nodes: number): number[][] {
  const lists: number[][] = Array.from({ length: nodes }, () => []);
  for (const [a, b] of edges) {
    lists[a]?.push(b);
    lists[b]?.push(a);
  }
  return lists.map((list) => list.sort((x, y) => x - y));
}

/** Whether every node reaches every other over the edges. */
export function isConnected(edges: readonly Edge[], nodes: number): boolean {
  if (nodes <= 1) return true;
  const lists = neighbourLists(edges, nodes);
  const seen = new Set<number>([0]);
  const queue = [0];
  while (queue.length > 0) {
    const node = queue.pop() as number;
    for (const next of lists[node] ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen.size === nodes;
}

/** The graph in the record: the spec, and the edges by node id. */
export interface TopologyRecord {
  readonly kind: TopologyKind;
  readonly name: string;
  readonly degree?: number;
  readonly seed?: number;
  readonly nodes: number;
  readonly hub: string;
  readonly edges: readonly (readonly [string, string])[];
}

export function topologyRecord(
  spec: TopologySpec,
  nodes: number,
  nodeId: (index: number) => string,
): TopologyRecord {
  return {
    kind: spec.kind,
    name: topologyName(spec),
    ...(spec.kind === 'random' ? { degree: spec.degree ?? 1, seed: spec.seed ?? 0 } : {}),
    nodes,
    hub: nodeId(0),
    edges: topologyEdges(spec, nodes).map(([a, b]) => [nodeId(a), nodeId(b)] as const),
  };
}

/**
 * random:K: a random ring (a random path for K = 1) over a shuffled order, so the graph is
 * connected, then random extra edges until every node has K; a node whose only candidates
 * already have K takes one of them anyway (that one ends with K + 1).
 */
function randomEdges(edges: EdgeSet, nodes: number, degree: number, random: () => number): void {
  if (nodes <= 1) return;
  const order = shuffle(
    Array.from({ length: nodes }, (_, index) => index),
    random,
  );
  const closed = degree >= 2 && nodes >= 3;
  for (let i = 0; i < nodes - 1; i++) edges.add(order[i] as number, order[i + 1] as number);
  if (closed) edges.add(order[nodes - 1] as number, order[0] as number);
  for (const node of shuffle(
    Array.from({ length: nodes }, (_, index) => index),
    random,
  )) {
    while (edges.degree(node) < degree) {
      const open = [];
      for (let other = 0; other < nodes; other++)
        if (other !== node && !edges.has(node, other)) open.push(other);
      if (open.length === 0) break;
      const wanting = open.filter((other) => edges.degree(other) < degree);
      const pool = wanting.length > 0 ? wanting : open;
      edges.add(node, pool[Math.floor(random() * pool.length)] as number);
    }
  }
}

class EdgeSet {
  readonly #keys = new Set<number>();
  readonly #degrees: number[];
  readonly #nodes: number;

  constructor(nodes: number) {
    this.#nodes = nodes;
    this.#degrees = new Array<number>(nodes).fill(0);
  }

  has(a: number, b: number): boolean {
    return this.#keys.has(Math.min(a, b) * this.#nodes + Math.max(a, b));
  }

  add(a: number, b: number): void {
    if (a === b || this.has(a, b)) return;
    this.#keys.add(Math.min(a, b) * this.#nodes + Math.max(a, b));
    this.#degrees[a] = (this.#degrees[a] ?? 0) + 1;
    this.#degrees[b] = (this.#degrees[b] ?? 0) + 1;
  }

  degree(node: number): number {
    return this.#degrees[node] ?? 0;
  }

  sorted(): Edge[] {
    return [...this.#keys]
      .sort((x, y) => x - y)
      .map((key) => [Math.floor(key / this.#nodes), key % this.#nodes] as const);
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** A small seeded generator (mulberry32): the same seed, the same graph. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One node as the topology's environment names it: its id and the address its peers dial. */
export interface TopologyMember {
  readonly id: string;
  readonly address: string;
}

/**
 * Each node's environment for a topology: `MESHBENCH_PEERS` (its neighbours' addresses,
 * comma-separated), `MESHBENCH_PEER_IDS` (their node ids, in the same order: an app that dials
 * its neighbours can dial each edge from one end only), `MESHBENCH_BOOTSTRAP` (the hub: the
 * first node's address) and, unless the mesh is full, `REFNODE_CONNECT` (the same ids, for the
 * reference node).
 */
export function topologyEnvironment(
  spec: TopologySpec,
  members: readonly TopologyMember[],
): Record<string, string>[] {
  const lists = neighbourLists(topologyEdges(spec, members.length), members.length);
  return members.map((_, index) => {
    const neighbours = (lists[index] ?? []).map((other) => members[other] as TopologyMember);
    const ids = neighbours.map((member) => member.id).join(',');
    return {
      MESHBENCH_PEERS: neighbours.map((member) => member.address).join(','),
      MESHBENCH_PEER_IDS: ids,
      MESHBENCH_BOOTSTRAP: members[0]?.address ?? '',
      ...(spec.kind === 'full' ? {} : { REFNODE_CONNECT: ids }),
    };
  });
}

/** How many peers each node should see once connected (the readiness probe's expectation). */
export function topologyDegrees(spec: TopologySpec, nodes: number): number[] {
  return neighbourLists(topologyEdges(spec, nodes), nodes).map((list) => list.length);
}
