/**
 * Batched writes to InfluxDB 1.x: points are queued and POSTed to `/write?db=…&precision=ms`
 * through undici, at most once per flush interval (or at once when a batch is full). A write
 * that fails drops its batch (the run never waits on InfluxDB), counts its points as lost and
 * says why once; `flush()` sends what is queued and waits for it.
 */
import { undici } from '../../protocols/undici-lazy.js';
import { basicCredentials } from '../../common/basic-credentials.js';
import { encodePoint, type Point } from './line-protocol.js';

export interface InfluxTarget {
  /** `http://host:8086` (no path). */
  readonly baseUrl: string;
  readonly database: string;
  /** `Authorization: Basic …`, from user:password in the URL. */
  readonly authorization?: string;
  /** The URL as given, without its password (for messages). */
  readonly shown: string;
}

/** `http://user:pass@host:8086/db` → where to write. */
export function influxTarget(url: string): InfluxTarget {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.split('/').filter(Boolean)[0] ?? '');
  const authorization = parsed.username !== '' ? basicCredentials(parsed) : undefined;
  parsed.password = parsed.password ? '***' : '';
  const shown = parsed.toString().replace(/\/+$/, '');
  return {
    baseUrl: `${parsed.protocol}//${parsed.host}`,
    database,
    ...(authorization ? { authorization } : {}),
    shown,
  };
}

export function writeUrl(target: InfluxTarget): string {
  const params = new URLSearchParams({ db: target.database, precision: 'ms' });
  return `${target.baseUrl}/write?${params.toString()}`;
}

/** POSTs lines; undefined when InfluxDB took them, else why not (one line). */
export async function postLines(
  target: InfluxTarget,
  lines: readonly string[],
  timeoutMs = 5000,
): Promise<string | undefined> {
  try {
    const { request } = await undici();
    const response = await request(writeUrl(target), {
      method: 'POST',
      body: `${lines.join('\n')}\n`,
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        ...(target.authorization ? { authorization: target.authorization } : {}),
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode === 204 || response.statusCode === 200) return undefined;
    let reason = text.trim();
    try {
      reason = (JSON.parse(text) as { error?: string }).error ?? reason;
    } catch {
      // not JSON: the text as it came
    }
    return `HTTP ${response.statusCode}${reason ? `: ${reason.slice(0, 200)}` : ''}`;
  } catch (error) {
    if (!(error instanceof Error)) return String(error);
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    const code = (error as NodeJS.ErrnoException).code;
    return cause ?? (code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message);
  }
}

/** `CREATE DATABASE` (as k6 does when its database is missing); undefined when done, else why not. */
export async function createDatabase(target: InfluxTarget, timeoutMs = 5000): Promise<string | undefined> {
  try {
    const params = new URLSearchParams({ q: `CREATE DATABASE "${target.database.replace(/"/g, '\\"')}"` });
    const { request } = await undici();
    const response = await request(`${target.baseUrl}/query?${params.toString()}`, {
      method: 'POST',
      headers: target.authorization ? { authorization: target.authorization } : {},
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) return `HTTP ${response.statusCode}: ${text.trim().slice(0, 200)}`;
    const error = (JSON.parse(text) as { results?: { error?: string }[] }).results?.[0]?.error;
    return error;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export interface WriterStats {
  readonly written: number;
  readonly lost: number;
  readonly errors: readonly string[];
}

export class InfluxWriter {
  readonly #target: InfluxTarget;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #onError: (reason: string) => void;
  #queue: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> = Promise.resolve();
  #written = 0;
  #lost = 0;
  readonly #errors = new Set<string>();
  #stopped = false;

  constructor(
    target: InfluxTarget,
    options: { flushMs?: number; maxBatch?: number; onError?: (reason: string) => void } = {},
  ) {
    this.#target = target;
    this.#flushMs = options.flushMs ?? 1000;
    this.#maxBatch = options.maxBatch ?? 5000;
    this.#onError = options.onError ?? (() => undefined);
  }

  get stats(): WriterStats {
    return { written: this.#written, lost: this.#lost, errors: [...this.#errors] };
  }

  /** Queues points (those without fields are skipped); sent within the flush interval. */
  write(points: readonly Point[]): void {
    if (this.#stopped) return;
    for (const point of points) {
      const line = encodePoint(point);
      if (line !== undefined) this.#queue.push(line);
    }
    if (this.#queue.length >= this.#maxBatch) this.#send();
    else if (this.#queue.length > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#send(), this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Sends what is queued and waits for every write under way. */
  async flush(): Promise<void> {
    this.#send();
    await this.#sending;
  }

  /** Flushes, then takes no more points. */
  async stop(): Promise<WriterStats> {
    await this.flush();
    this.#stopped = true;
    return this.stats;
  }

  #send(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const batches: string[][] = [];
    for (let index = 0; index < this.#queue.length; index += this.#maxBatch)
      batches.push(this.#queue.slice(index, index + this.#maxBatch));
    this.#queue = [];
    // One write at a time, in order: a later second never lands before an earlier one.
    this.#sending = this.#sending.then(async () => {
      for (const batch of batches) {
        const problem = await postLines(this.#target, batch);
        if (problem === undefined) {
          this.#written += batch.length;
          continue;
        }
        this.#lost += batch.length;
        if (!this.#errors.has(problem)) {
          this.#errors.add(problem);
          this.#onError(problem);
        }
      }
    });
  }
}
