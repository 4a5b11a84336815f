/**
 * The parts of the sweep's lifecycle (src/bench/observer.ts) the monitoring plug-ins use.
 * This folder sits below bench/, so it names only what it needs, and the sweep accepts
 * its observers by their shape.
 */
import type { Deployment } from '../testbed/testbed.js';

export interface MonitorLevelStart {
  readonly runId: string;
  readonly network: string;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly run: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface MonitorLevelContext {
  readonly deployment: Pick<Deployment, 'endpoints'>;
  readonly signal: AbortSignal;
  elapsedMs(): number;
  block(name: string, data: unknown): void;
  log(line: string): void;
}

/** A level's end as the monitors read it: each run's blocks (what the other observers saw). */
export interface MonitorLevelEnd {
  readonly runId: string;
  readonly network: string;
  readonly benchmarkNumber: number;
  readonly load: number;
  readonly runs: readonly { readonly blocks?: Readonly<Record<string, unknown>> }[];
}
