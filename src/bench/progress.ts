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
}

export function createProgress(options: ProgressOptions): SweepProgress {
  if (!options.tty) return plainProgress(options.line);
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
          format: `${label} [{bar}] {value}/{total} s | sent {sent} | committed {committed}`,
          hideCursor: true,
          clearOnComplete: false,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(totalSecs, 0, { sent: 0, committed: 0 });
    },
    levelTick({ elapsedMs, sent, committed }) {
      bar?.update(Math.min(bar.getTotal(), Math.floor(elapsedMs / 1000)), { sent, committed });
    },
    levelStop(text) {
      bar?.stop();
      bar = undefined;
      stream.write(`${text}\n`);
    },
  };
}

function plainProgress(line: (text: string) => void): SweepProgress {
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
    levelTick({ elapsedMs, sent, committed }) {
      const secs = Math.floor(elapsedMs / 1000);
      if (secs - lastReportedSecs >= everySecs) {
        lastReportedSecs = secs;
        line(`${label}: ${secs} s, sent ${sent}, committed ${committed}`);
      }
    },
    levelStop: line,
  };
}
