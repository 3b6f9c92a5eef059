/**
 * A cursor over one message body: Int8/Int16/Int32, NUL-terminated strings and byte runs, each
 * checked against the end of the body. A body too short for what its type promises is the
 * sender's protocol violation (SQLSTATE 08P01), never a RangeError or a read past the message into
 * the next one. One reader is reset per message and reused: reading allocates nothing but the
 * strings it returns.
 */
import { PgmoatError } from '../util/errors.js';

/** A message that does not hold what its type promises (too short, a string without its NUL). */
export class ProtocolViolation extends PgmoatError {
  constructor(message: string) {
    super('BAD_MESSAGE_BODY', message);
  }
}

const EMPTY = Buffer.alloc(0);

/** The offset of the NUL that ends the string starting at `from`, or -1 when none comes before `end`. */
export function cstringEnd(buf: Buffer, from: number, end: number): number {
  const i = buf.indexOf(0, from);
  return i < 0 || i >= end ? -1 : i;
}

export class BodyReader {
  private buf: Buffer = EMPTY;
  private start = 0;
  private at = 0;
  private end = 0;
  /** The message's name for errors, e.g. "BackendKeyData". */
  private what = 'message';

  /** Reads buf[start, end) from its start; the reader keeps no reference past the next reset. */
  reset(buf: Buffer, start: number, end: number, what: string): this {
    this.buf = buf;
    this.start = start;
    this.at = start;
    this.end = end;
    this.what = what;
    return this;
  }

  /** Drops the reference to the last body (it may be a view of a shared read buffer). */
  clear(): void {
    this.buf = EMPTY;
    this.start = this.at = this.end = 0;
  }

  get remaining(): number {
    return this.end - this.at;
  }

  int8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string; the NUL must lie within the body. */
  cstring(): string {
    const nul = cstringEnd(this.buf, this.at, this.end);
    if (nul < 0) throw new ProtocolViolation(`a ${this.what} message with an unterminated string`);
    const s = this.buf.toString('utf8', this.at, nul);
    this.at = nul + 1;
    return s;
  }

  /** The next `n` bytes, as a view valid as long as the body it reads. */
  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolViolation(`a ${this.what} message with a negative length`);
    this.need(n);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  /** What is left of the body, as a view. */
  rest(): Buffer {
    return this.bytes(this.end - this.at);
  }

  private need(n: number): void {
    if (this.end - this.at < n) {
      throw new ProtocolViolation(`a truncated ${this.what} message (${n} more bytes expected at offset ${this.at - this.start}, ${this.end - this.at} left)`);
    }
  }
}
