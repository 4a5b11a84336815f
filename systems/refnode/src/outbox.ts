/**
 * Group commit for "persist before send": consensus messages wait here until every WAL and block
 * record appended before them is durable. One fdatasync round (both files, in the thread pool)
 * covers everything appended so far, so the event loop keeps serving RPC and P2P meanwhile and
 * one sync serves many records. With fsync off, messages go out at once.
 */
export class DurableOutbox {
  private appended = 0;
  private durable = 0;
  private syncing = false;
  private stopped = false;
  private readonly queue: { readonly tag: number; readonly send: () => void }[] = [];

  constructor(
    private readonly enabled: boolean,
    private readonly syncAll: () => Promise<unknown>,
    private readonly onError: (err: Error) => void,
    private readonly onSlowSync: (ms: number) => void = () => {},
  ) {}

  /** A record was appended to a log (not durable yet). */
  noteAppend(): void {
    this.appended += 1;
    if (this.enabled) this.kick();
    else this.durable = this.appended;
  }

  /** Runs `send` once everything appended so far is durable, in call order. */
  send(send: () => void): void {
    if (this.stopped) return;
    if (this.queue.length === 0 && (!this.enabled || this.durable >= this.appended)) {
      send();
      return;
    }
    this.queue.push({ tag: this.appended, send });
    this.kick();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Drops what is queued (a stopping or crashing node sends nothing more). */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private kick(): void {
    if (this.syncing || this.stopped) return;
    if (!this.enabled || this.durable >= this.appended) {
      this.release();
      return;
    }
    const target = this.appended;
    this.syncing = true;
    const started = performance.now();
    this.syncAll().then(
      () => {
        const ms = performance.now() - started;
        if (ms > 250) this.onSlowSync(ms);
        this.syncing = false;
        this.durable = Math.max(this.durable, target);
        this.release();
        this.kick();
      },
      (err: unknown) => {
        this.syncing = false;
        this.stop();
        this.onError(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private release(): void {
    while (!this.stopped && this.queue.length > 0 && (this.queue[0] as { tag: number }).tag <= this.durable) {
      (this.queue.shift() as { send: () => void }).send();
    }
  }
}
