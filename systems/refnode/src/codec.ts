/**
 * Binary encoding helpers for the P2P wire format and the block store.
 * Big-endian throughout. Heights are float64 (exact integers up to 2^53).
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSizeBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialSizeBytes);
  }

  private ensure(moreBytes: number): void {
    if (this.pos + moreBytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + moreBytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.pos++] = value;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(value, this.pos);
    this.pos += 2;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(value, this.pos);
    this.pos += 4;
    return this;
  }

  i32(value: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(value, this.pos);
    this.pos += 4;
    return this;
  }

  f64(value: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(value, this.pos);
    this.pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** u32 length, then the bytes. */
  lenBytes(value: Uint8Array): this {
    return this.u32(value.length).bytes(value);
  }

  /** u16 length, then UTF-8. */
  str(value: string): this {
    const encoded = Buffer.from(value, 'utf8');
    if (encoded.length > 0xffff) throw new Error(`string of ${encoded.length} bytes exceeds 65535`);
    return this.u16(encoded.length).bytes(encoded);
  }

  get length(): number {
    return this.pos;
  }

  /** A view of the written bytes (no copy). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class Reader {
  pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end) {
      throw new DecodeError(
        `truncated: need ${bytes} bytes at offset ${this.pos}, have ${this.end - this.pos}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2);
    const value = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  i32(): number {
    this.need(4);
    const value = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  f64(): number {
    this.need(8);
    const value = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A view (no copy) of the next `length` bytes. */
  bytes(length: number): Buffer {
    this.need(length);
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  lenBytes(): Buffer {
    return this.bytes(this.u32());
  }

  str(): string {
    return this.bytes(this.u16()).toString('utf8');
  }

  /** Height-like value: a non-negative safe integer. */
  uint(): number {
    const value = this.f64();
    if (!Number.isSafeInteger(value) || value < 0) throw new DecodeError(`bad integer ${value}`);
    return value;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  rest(): Buffer {
    return this.bytes(this.end - this.pos);
  }

  done(): void {
    if (this.pos !== this.end) throw new DecodeError(`${this.end - this.pos} trailing bytes`);
  }
}
