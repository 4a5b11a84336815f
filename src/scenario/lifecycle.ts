import type { LivePublisher } from '../measure/live.js';

/**
 * The parts of the sweep's lifecycle the scenario's plug-ins (faults, conditions) use (src/bench/observer.ts has the full
 * SweepObserver; they sit below bench/, so it names only what it needs and the
 * sweep accepts it as an observer by its shape).
 */
export interface LevelStart {
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface LevelContext {
  readonly signal: AbortSignal;
  elapsedMs(): number;
  block(name: string, data: unknown): void;
  log(line: string): void;
  /** Live windows for watchers (the sweep always gives it). */
  readonly publish?: LivePublisher;
}
