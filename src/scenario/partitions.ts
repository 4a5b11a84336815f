/**
 * Partitions as Jepsen draws them (jepsen/src/jepsen/nemesis.clj): the nodes split into
 * components, and each node drops what comes from a node it shares no component with.
 *   bisect           two halves, the first the smaller: [0, n/2) and [n/2, n)
 *   split-one        one node alone, the rest together
 *   bridge           two halves that cannot see each other, and one node (the first of
 *                    the second half) that sees both
 *   majorities-ring  the nodes in a ring, each seeing the majority centred on itself, so
 *                    every node sees a majority and no two see the same one
 *   groups           components given by name
 * The nodes are taken in the network's order (not shuffled as Jepsen does), so a run is
 * repeatable and the record says who was cut from whom.
 */

export type PartitionShape = 'bisect' | 'split-one' | 'bridge' | 'majorities-ring';
export const PARTITION_SHAPES: readonly PartitionShape[] = [
  'bisect',
  'split-one',
  'bridge',
  'majorities-ring',
];

/** Each node's view: the nodes it still hears from (itself included). */
export type Views = ReadonlyMap<string, ReadonlySet<string>>;

export function componentsOf(
  shape: PartitionShape,
  nodes: readonly string[],
  alone?: string,
): readonly (readonly string[])[] {
  const half = Math.floor(nodes.length / 2);
  switch (shape) {
    case 'bisect':
      return [nodes.slice(0, half), nodes.slice(half)];
    case 'split-one': {
      const node = alone ?? (nodes[0] as string);
      return [[node], nodes.filter((other) => other !== node)];
    }
    case 'bridge': {
      const first = nodes.slice(0, half);
      const second = nodes.slice(half);
      return [[...first, second[0] as string], second];
    }
    case 'majorities-ring':
      return ringViews(nodes);
  }
}

/** For each node in a ring, the majority window centred on it (n = 5: itself and one each side). */
function ringViews(nodes: readonly string[]): string[][] {
  const n = nodes.length;
  const majority = Math.floor(n / 2) + 1;
  const back = Math.floor((majority - 1) / 2);
  return nodes.map((_, index) =>
    Array.from({ length: majority }, (_unused, k) => nodes[(index - back + k + n) % n] as string),
  );
}

/** Each node's view from components: the union of the components it is in. */
export function viewsOf(components: readonly (readonly string[])[], nodes: readonly string[]): Views {
  const views = new Map<string, Set<string>>();
  for (const node of nodes) views.set(node, new Set([node]));
  for (const component of components) {
    for (const node of component) for (const other of component) views.get(node)?.add(other);
  }
  return views;
}

/**
 * majorities-ring views are a node's own window, not a union: node i hears from j exactly
 * when j is in i's window (the relation is symmetric for the centred window).
 */
export function shapeViews(shape: PartitionShape, nodes: readonly string[], alone?: string): Views {
  const components = componentsOf(shape, nodes, alone);
  if (shape !== 'majorities-ring') return viewsOf(components, nodes);
  return new Map(nodes.map((node, index) => [node, new Set(components[index])]));
}

/** The directed links a partition cuts: `from` → `to` where `to` does not hear from `from`. */
export function cutLinks(views: Views): readonly (readonly [string, string])[] {
  const cut: [string, string][] = [];
  for (const [to, heard] of views) {
    for (const from of views.keys()) if (from !== to && !heard.has(from)) cut.push([from, to]);
  }
  return cut;
}
