/**
 * Which endpoint each transaction goes to: round-robin (the default), weighted,
 * or all load on chosen nodes. The choice depends on the sequence number only, so
 * worker threads sharing one schedule agree on it without talking.
 */
import { MeshbenchError } from '../common/errors.js';
import type { Endpoint } from '../protocols/endpoint.js';
import type { TargetSelection } from './types.js';

export type TargetPicker = (seq: number) => number;

export function createTargetPicker(
  endpoints: readonly Endpoint[],
  target: TargetSelection = { kind: 'round-robin' },
): TargetPicker {
  const count = endpoints.length;
  if (target.kind === 'round-robin') return (seq) => seq % count;
  if (target.kind === 'nodes') {
    const indices = target.nodeIds.map((id) => {
      const index = endpoints.findIndex((e) => e.nodeId === id);
      if (index < 0) {
        throw new MeshbenchError('BAD_FLAG', `target node ${id} is not one of the endpoints`, {
          hint: `choose from ${endpoints.map((e) => e.nodeId).join(', ')}`,
        });
      }
      return index;
    });
    if (indices.length === 0)
      throw new MeshbenchError('BAD_FLAG', 'target nodes list is empty', { hint: 'name at least one node' });
    return (seq) => indices[seq % indices.length] ?? 0;
  }
  // Weighted: a smooth weighted round-robin table (nginx's algorithm) over a bounded cycle.
  const weights = endpoints.map((e) => {
    const weight = target.weights[e.nodeId] ?? 0;
    if (!Number.isFinite(weight) || weight < 0) {
      throw new MeshbenchError('BAD_FLAG', `weight ${weight} for node ${e.nodeId} is not a number >= 0`, {
        hint: 'use weights such as node0=2,node1=1',
      });
    }
    return weight;
  });
  for (const nodeId of Object.keys(target.weights)) {
    if (!endpoints.some((e) => e.nodeId === nodeId)) {
      throw new MeshbenchError('BAD_FLAG', `weighted target ${nodeId} is not one of the endpoints`, {
        hint: `choose from ${endpoints.map((e) => e.nodeId).join(', ')}`,
      });
    }
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0)
    throw new MeshbenchError('BAD_FLAG', 'target weights sum to 0', {
      hint: 'give at least one node a weight above 0',
    });
  // Scale to integers over a cycle of at most 1000 slots.
  const scale = 1000 / total;
  const slots = weights.map((w) => Math.round(w * scale));
  const cycle = slots.reduce((a, b) => a + b, 0);
  const current = slots.map(() => 0);
  const table: number[] = [];
  for (let i = 0; i < cycle; i++) {
    let best = 0;
    for (let j = 0; j < slots.length; j++) {
      current[j] = (current[j] ?? 0) + (slots[j] ?? 0);
      if ((current[j] ?? 0) > (current[best] ?? 0)) best = j;
    }
    current[best] = (current[best] ?? 0) - cycle;
    table.push(best);
  }
  return (seq) => table[seq % table.length] ?? 0;
}
