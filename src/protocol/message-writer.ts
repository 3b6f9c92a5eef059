/**
 * Builds protocol messages into one growable buffer: write the body, then fill the length in
 * (pg-protocol's writer does the same). Reused per connection: `take()` returns a copy to keep,
 * `view()` a view valid until the next `reset()` or write.
 */
export class MessageWriter {
  private buf: Buffer;
  private offset = 0;
  private messageStart = -1;

  constructor(initialSize = 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(extra: number): void {
    const need = this.offset + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  /** Starts a typed message; type 0 starts an untyped one (startup, SSLRequest, cancel). */
  begin(type: number): this {
    if (type !== 0) {
      this.ensure(1);
      this.buf[this.offset++] = type;
    }
    this.messageStart = this.offset;
    this.ensure(4);
    this.offset += 4;
    return this;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.offset);
    this.offset += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.ensure(len + 1);
    this.buf.write(s, this.offset, 'utf8');
    this.offset += len;
    this.buf[this.offset++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** Ends the current message by writing its length. */
  end(): this {
    if (this.messageStart < 0) throw new Error('MessageWriter.end() without begin()');
    this.buf.writeInt32BE(this.offset - this.messageStart, this.messageStart);
    this.messageStart = -1;
    return this;
  }

  get length(): number {
    return this.offset;
  }

  /** A view of everything written; valid until the next reset() or write. */
  view(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  /** A copy of everything written, then reset. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.offset));
    this.reset();
    return out;
  }

  reset(): this {
    this.offset = 0;
    this.messageStart = -1;
    return this;
  }
}
