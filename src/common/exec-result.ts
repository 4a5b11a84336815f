/** What a finished command printed and how it ended: a local child, `docker exec`, or SSH exec. */
export interface ExecResult {
  /** The process's exit code (127 when it could not start). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}
