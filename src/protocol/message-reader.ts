/**
 * Whole typed messages pulled one at a time from the bytes read so far: for the few places
 * that take a message, act on it (often asynchronously) and only then want the next one: a client
 * authenticating, the admin console, the quick start's refusal probe. Bytes after the last
 * message taken stay untouched, for whoever reads the connection next (rest()).
 *
 * The relay and the logins use FrameScanner instead, which handles every message of a read
 * within the call and forwards by header without copying.
 */
import { PgmoatError } from '../util/errors.js';
import { MIN_MESSAGE_LENGTH } from './codes.js';

export interface WholeMessage {
  type: number;
  /** The body (after type and length): a view of the bytes read, never written to. */
  body: Buffer;
}

/** A length field below 4 or above the reader's limit: nothing after it can be framed. */
export class BadMessageLength extends PgmoatError {
  constructor(readonly length: number) {
    super('BAD_MESSAGE_LENGTH', `invalid message length ${length}`);
  }
}

const HEADER = 5;
const EMPTY = Buffer.alloc(0);

export class MessageReader {
  private buf: Buffer = EMPTY;

  /** `maxLength`: the largest length field taken (it counts itself, not the type byte). */
  constructor(private readonly maxLength: number) {}

  /** Adds a read; a chunk arriving with nothing held is kept as is, not copied. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Bytes held that no message taken has covered yet. */
  get buffered(): number {
    return this.buf.length;
  }

  /**
   * The next whole message, or undefined until more bytes arrive. Throws BadMessageLength as
   * soon as a header's length is out of bounds, before waiting for (or holding) its body.
   */
  next(): WholeMessage | undefined {
    const buf = this.buf;
    if (buf.length < HEADER) return undefined;
    const length = buf.readInt32BE(1);
    if (length < MIN_MESSAGE_LENGTH || length > this.maxLength) throw new BadMessageLength(length);
    if (buf.length < 1 + length) return undefined;
    const message = { type: buf[0]!, body: buf.subarray(HEADER, 1 + length) };
    this.buf = buf.length === 1 + length ? EMPTY : buf.subarray(1 + length);
    return message;
  }

  /** What arrived after the last message taken, and forgets it; undefined when nothing did. */
  rest(): Buffer | undefined {
    const rest = this.buf;
    this.buf = EMPTY;
    return rest.length > 0 ? rest : undefined;
  }
}
