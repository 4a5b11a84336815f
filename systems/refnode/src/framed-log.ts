/**
 * An append-only file of framed records: u32 payload length | u32 CRC-32 of the payload | payload.
 * On open, records are read from the start; the first frame that is short or fails its checksum
 * marks a torn tail (a crash during an append), and the file is truncated there.
 * Appends are synchronous writes; with `fsync` each append is followed by fdatasync, otherwise
 * `syncAsync()` makes everything appended so far durable without blocking the event loop.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { crc32 } from 'node:zlib';

const HEADER_BYTES = 8;
/** Any record larger than this is treated as corruption. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export interface LogRecord {
  readonly offset: number;
  readonly payload: Buffer;
}

export interface OpenedLog {
  readonly log: FramedLog;
  readonly records: LogRecord[];
  /** Bytes cut off a torn tail (0 when the file was clean). */
  readonly truncatedBytes: number;
}

export class FramedLog {
  private sizeBytes: number;
  private dirty = false;

  private constructor(
    private fd: number | undefined,
    sizeBytes: number,
    private readonly fsync: boolean,
  ) {
    this.sizeBytes = sizeBytes;
  }

  /** Opens (creating if missing) and recovers the log. `keep` can drop payloads not needed in memory. */
  static open(path: string, options: { fsync: boolean; keepPayloads?: boolean }): OpenedLog {
    const fd = openSync(path, 'a+');
    const fileBytes = fstatSync(fd).size;
    const records: LogRecord[] = [];
    const header = Buffer.alloc(HEADER_BYTES);
    let offset = 0;
    while (offset + HEADER_BYTES <= fileBytes) {
      if (readSync(fd, header, 0, HEADER_BYTES, offset) !== HEADER_BYTES) break;
      const length = header.readUInt32BE(0);
      const checksum = header.readUInt32BE(4);
      if (length > MAX_RECORD_BYTES || offset + HEADER_BYTES + length > fileBytes) break;
      const payload = Buffer.allocUnsafe(length);
      if (length > 0 && readSync(fd, payload, 0, length, offset + HEADER_BYTES) !== length) break;
      if (crc32(payload) !== checksum) break;
      records.push({ offset, payload: options.keepPayloads === false ? Buffer.alloc(0) : payload });
      offset += HEADER_BYTES + length;
    }
    const truncatedBytes = fileBytes - offset;
    if (truncatedBytes > 0) {
      ftruncateSync(fd, offset);
      if (options.fsync) fdatasyncSync(fd);
    }
    return { log: new FramedLog(fd, offset, options.fsync), records, truncatedBytes };
  }

  /** Appends one record; returns its offset. Durable on return when fsync is on. */
  append(payload: Uint8Array): number {
    const fd = this.openFd();
    const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.writeUInt32BE(crc32(payload), 4);
    frame.set(payload, HEADER_BYTES);
    const offset = this.sizeBytes;
    let written = 0;
    while (written < frame.length) written += writeSync(fd, frame, written, frame.length - written);
    this.sizeBytes += frame.length;
    if (this.fsync) fdatasyncSync(fd);
    else this.dirty = true;
    return offset;
  }

  /** Reads the payload of the record at `offset`. */
  read(offset: number): Buffer {
    const fd = this.openFd();
    const header = Buffer.alloc(HEADER_BYTES);
    readSync(fd, header, 0, HEADER_BYTES, offset);
    const length = header.readUInt32BE(0);
    const payload = Buffer.allocUnsafe(length);
    if (length > 0) readSync(fd, payload, 0, length, offset + HEADER_BYTES);
    return payload;
  }

  /** fdatasync in the thread pool; resolves once everything appended before the call is durable. */
  syncAsync(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined || !this.dirty) return Promise.resolve();
    this.dirty = false;
    return new Promise((resolve, reject) => {
      fdatasync(fd, (err) => {
        if (err === null || this.fd !== fd)
          resolve(); // closed meanwhile: close() synced or it was a crash
        else reject(err);
      });
    });
  }

  get size(): number {
    return this.sizeBytes;
  }

  flush(): void {
    if (this.fd !== undefined) fdatasyncSync(this.fd);
  }

  /** Closes the file; `flush: false` skips the final fdatasync (what a killed process leaves). */
  close(flush = true): void {
    if (this.fd === undefined) return;
    try {
      if (flush) fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error('log is closed');
    return this.fd;
  }
}
