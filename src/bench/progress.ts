/**
 * Progress of a sweep: a cli-progress bar per load level (and a line per deploy
 * phase) when attached to a terminal, plain lines otherwise (CI logs, pipes).
 */
import cliProgress from 'cli-progress';
import type { LoadProgress } from '../load/types.js';

export interface SweepProgress {
  /** A phase line: deploy, ready, settle, cleanup… (shown inside the deploy bar while one runs). */
  phase(text: string): void;
  /** A deploy starts; it may take up to `maxSecs`. */
  deployStart(label: string, maxSecs: number): void;
  deployStop(text: string): void;
  /** A load level starts: `totalSecs` of scheduled load. */
  levelStart(label: string, totalSecs: number): void;
  /** The generator's progress during a level (about every second). */
  levelTick(progress: LoadProgress): void;
  levelStop(text: string): void;
}

export interface ProgressOptions {
  /** A terminal stream: bars. Absent: plain lines through `line`. */
  readonly tty?: NodeJS.WritableStream | undefined;
  readonly line: (text: string) => void;
  /**
   * What the level counts as done: `commit` (the default) shows the commits seen, `none`
   * (the reply is all that is awaited, `--confirm none`) the accepted replies, so an etcd put
   * (whose reply is its commit) is not shown as `committed 0` all level long.
   */
  readonly confirm?: 'commit' | 'none';
}

/** What a tick counts as done, by name: `committed` or `accepted`. */
function doneLabel(confirm: ProgressOptions['confirm']): string {
  return confirm === 'none' ? 'accepted' : 'committed';
}

function doneCount(progress: LoadProgress, confirm: ProgressOptions['confirm']): number {
  return confirm === 'none' ? progress.ok : progress.committed;
}

/** `<separator>failed N` once any send failed, else nothing. */
function failedOf(progress: LoadProgress, separator: string): string {
  return progress.failed > 0 ? `${separator}failed ${progress.failed}` : '';
}

export function createProgress(options: ProgressOptions): SweepProgress {
  const { confirm } = options;
  if (!options.tty) return plainProgress(options.line, confirm);
  const stream = options.tty;
  let bar: cliProgress.SingleBar | undefined;
  let deployBar: cliProgress.SingleBar | undefined;
  let deployTimer: NodeJS.Timeout | undefined;
  const stopDeployBar = () => {
    if (deployTimer) clearInterval(deployTimer);
    deployTimer = undefined;
    deployBar?.stop();
    deployBar = undefined;
  };
  return {
    phase(text) {
      if (deployBar) deployBar.update({ phase: text.slice(0, 60) });
      else stream.write(`${text}\n`);
    },
    deployStart(label, maxSecs) {
      deployBar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {value}/{total} s | {phase}`,
          hideCursor: true,
          clearOnComplete: true,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      deployBar.start(maxSecs, 0, { phase: 'starting' });
      const started = Date.now();
      deployTimer = setInterval(() => {
        deployBar?.update(Math.min(maxSecs, Math.floor((Date.now() - started) / 1000)));
      }, 500);
      deployTimer.unref();
    },
    deployStop(text) {
      stopDeployBar();
      stream.write(`${text}\n`);
    },
    levelStart(label, totalSecs) {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {value}/{total} s | sent {sent} | ${doneLabel(confirm)} {done}{failed}`,
          hideCursor: true,
          clearOnComplete: false,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(totalSecs, 0, { sent: 0, done: 0, failed: '' });
    },
    levelTick(progress) {
      bar?.update(Math.min(bar.getTotal(), Math.floor(progress.elapsedMs / 1000)), {
        sent: progress.sent,
        done: doneCount(progress, confirm),
        failed: failedOf(progress, ' | '),
      });
    },
    levelStop(text) {
      bar?.stop();
      bar = undefined;
      stream.write(`${text}\n`);
    },
  };
}

function plainProgress(line: (text: string) => void, confirm: ProgressOptions['confirm']): SweepProgress {
  let label = '';
  let lastReportedSecs = -1;
  let everySecs = 10;
  return {
    phase: line,
    deployStart(label, maxSecs) {
      line(`${label} (at most ${maxSecs} s) …`);
    },
    deployStop: line,
    levelStart(newLabel, totalSecs) {
      label = newLabel;
      lastReportedSecs = 0;
      everySecs = Math.max(5, Math.ceil(totalSecs / 6));
      line(`${label}: running for ${totalSecs} s`);
    },
    levelTick(progress) {
      const secs = Math.floor(progress.elapsedMs / 1000);
      if (secs - lastReportedSecs >= everySecs) {
        lastReportedSecs = secs;
        line(
          `${label}: ${secs} s, sent ${progress.sent}, ${doneLabel(confirm)} ${doneCount(progress, confirm)}${failedOf(progress, ', ')}`,
        );
      }
    },
    levelStop: line,
  };
}
