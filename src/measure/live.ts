/**
 * What plug-ins publish while a level runs (`LevelContext.publish`, src/bench/observer.ts),
 * for observers that show the run live (the dashboard): a resource sample of a node as the
 * monitor takes it, a fault or network-condition window as it starts and as it ends. Times
 * are on the level's clock (milliseconds since its load started, `context.elapsedMs()`), the
 * same clock as the record's blocks, so a live band or sample lands where the record puts it.
 * Plain data; the record's blocks stay the source of truth at the level's end.
 */

/** One node's figures over the interval that ended at the sample (what the `resources` block's series holds). */
export interface LiveResourceFigures {
  /** 100 = one core. */
  readonly cpuPercent: number;
  readonly memoryBytes: number;
  readonly netRxBytesPerSec?: number;
  readonly netTxBytesPerSec?: number;
  readonly blockReadBytesPerSec?: number;
  readonly blockWriteBytesPerSec?: number;
}

export interface LiveResourceSample {
  readonly kind: 'resource-sample';
  readonly node: string;
  readonly host: string;
  readonly atMs: number;
  /** The monitor's sampling interval (the report slots samples by it). */
  readonly intervalMs: number;
  /** Absent: the node gave no reading (down, stopped or silent). */
  readonly figures?: LiveResourceFigures;
}

export interface LiveWindowStart {
  readonly kind: 'window-start';
  /** Unique within the level's run: its window-end carries the same. */
  readonly id: string;
  readonly category: 'fault' | 'condition';
  /** As the report labels its band (`kill node3`, `delay 50ms on every link`). */
  readonly label: string;
  /** The nodes it acts on (a fault's nodes; a condition's `nodes`); empty: every link or by links. */
  readonly nodes: readonly string[];
  /** A condition's links, `node0->node1`; empty otherwise. */
  readonly links: readonly string[];
  readonly atMs: number;
}

export interface LiveWindowEnd {
  readonly kind: 'window-end';
  readonly id: string;
  readonly category: 'fault' | 'condition';
  readonly atMs: number;
}

/**
 * A node went down or is answering again, as the plug-in that acted on it knows (the fault
 * injector: down when its crash, stop or pause fires; up once the brought-back node answers its
 * health probe). The sweep routes the load by it (`--fault-load`), at once.
 */
export interface LiveNodeState {
  readonly kind: 'node-state';
  readonly node: string;
  readonly state: 'down' | 'up';
  readonly atMs: number;
}

export type LiveEvent = LiveResourceSample | LiveWindowStart | LiveWindowEnd | LiveNodeState;

/** What a plug-in calls to publish (the sweep's `LevelContext.publish`); must return at once. */
export type LivePublisher = (event: LiveEvent) => void;
