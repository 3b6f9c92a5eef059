/**
 * Forward-by-header framing for the relay. Bytes pass through untouched, as views of the chunk
 * they arrived in; only the message types marked in `capture` are assembled and handed to the
 * handler, which may let them through, drop them, or emit other bytes in their place.
 *
 * One scanner per direction per connection, reused for its whole life: no per-message
 * allocation on the pass-through path, and a copy only for a captured message split across reads.
 */

export const FORWARD = 0;
export const DROP = 1;
export type FrameAction = typeof FORWARD | typeof DROP;

export interface FrameHandler {
  /**
   * A whole captured message: its body is buf[start, end) (type byte and length excluded),
   * valid only during the call; passing offsets instead of a view keeps this allocation-free.
   * Return FORWARD to pass it on, or DROP when it was consumed.
   */
  onMessage(type: number, buf: Buffer, start: number, end: number): FrameAction;
  /** A length field outside [4, maxLength]: the scanner has stopped; the handler ends the connection. */
  onBadLength(type: number, length: number): void;
}

export interface FrameOutput {
  write(buf: Buffer): unknown;
}

const HEADER = 5;
/** First allocation for a captured message that arrives in pieces. */
const CAPTURE_START = 8192;

/** Shared by every scanner with nothing held: an idle connection keeps no buffer of its own. */
const EMPTY = Buffer.alloc(0);

/** A capture table for `types`, to share between scanners that never change theirs. */
export function captureTable(types: readonly number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const type of types) t[type] = 1;
  return t;
}

export class FrameScanner {
  /**
   * capture[type] !== 0: assemble messages of this type and give them to the handler. A table
   * given to the constructor may be shared: never change it through captureTypes/captureAll.
   */
  readonly capture: Uint8Array;
  maxLength: number;

  /** A header split across reads; allocated the first time one is (most connections never). */
  private hdr: Buffer = EMPTY;
  private hdrFill = 0;
  /** Body bytes of a pass-through message still to come. */
  private skip = 0;
  /** A captured message being assembled across reads (type byte, length, body). */
  private cap: Buffer | null = null;
  private capFill = 0;
  /** The whole captured message's size (type byte included); `cap` grows towards it as bytes arrive. */
  private capTotal = 0;

  private chunk: Buffer = EMPTY;
  /**
   * What one scan sends on, in order, written once when the scan ends: a read that yields one
   * piece (the usual case) is one write; dropped, emitted or rewritten messages make several
   * pieces, joined into one buffer so that they still cost one write (one TLS record, one syscall).
   */
  private readonly pieces: Buffer[] = [];
  private pendingStart = 0;
  private curMsgStart = 0;
  private stopped = false;

  constructor(
    private readonly handler: FrameHandler,
    private out: FrameOutput,
    maxLength = 0x3fffffff,
    capture?: Uint8Array,
  ) {
    this.maxLength = maxLength;
    this.capture = capture ?? new Uint8Array(256);
  }

  /** Changes where forwarded bytes go (a client moving to another server connection). */
  setOutput(out: FrameOutput): void {
    this.out = out;
  }

  captureTypes(types: readonly number[], on = true): void {
    for (const t of types) this.capture[t] = on ? 1 : 0;
  }

  captureAll(): void {
    this.capture.fill(1);
  }

  /** True between messages: no partial header, body or capture pending. */
  get atBoundary(): boolean {
    return this.hdrFill === 0 && this.skip === 0 && this.cap === null;
  }

  /**
   * Stop processing: bytes before the message being handled are still forwarded; that message
   * and everything after it are not.
   */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Writes bytes in the output stream at the position of the message being handled:
   * after everything before it, before the message itself if that is then forwarded.
   */
  emit(buf: Buffer): void {
    this.flush(this.pendingStart, this.curMsgStart);
    this.pendingStart = this.curMsgStart;
    this.pieces.push(buf);
  }

  private flush(start: number, end: number): void {
    if (end <= start) return;
    const c = this.chunk;
    this.pieces.push(start === 0 && end === c.length ? c : c.subarray(start, end));
  }

  /** Writes what the scan collected; the views in it are valid only until the next read. */
  private deliver(): void {
    const pieces = this.pieces;
    const n = pieces.length;
    if (n === 0) return;
    const out = n === 1 ? pieces[0]! : Buffer.concat(pieces);
    pieces.length = 0;
    this.out.write(out);
  }

  scan(chunk: Buffer): void {
    if (this.stopped) return;
    try {
      this.scanChunk(chunk);
    } catch (err) {
      // Views of this read must not go out with the next one.
      this.pieces.length = 0;
      this.chunk = EMPTY;
      throw err;
    }
    this.deliver();
    // The read is done with: an idle connection must not keep its last chunk alive.
    this.chunk = EMPTY;
  }

  private scanChunk(chunk: Buffer): void {
    this.chunk = chunk;
    this.pendingStart = 0;
    this.curMsgStart = 0;
    const n = chunk.length;
    const capture = this.capture;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const t = this.skip < n - i ? this.skip : n - i;
        i += t;
        this.skip -= t;
        continue;
      }
      if (this.cap !== null) {
        i = this.continueCapture(chunk, i);
        if (this.stopped) return;
        continue;
      }
      let type: number;
      let length: number;
      let headerStart: number;
      if (this.hdrFill > 0 || n - i < HEADER) {
        const t = Math.min(HEADER - this.hdrFill, n - i);
        if (this.hdr === EMPTY) this.hdr = Buffer.alloc(HEADER);
        chunk.copy(this.hdr, this.hdrFill, i, i + t);
        const wasEmpty = this.hdrFill === 0;
        this.hdrFill += t;
        i += t;
        if (this.hdrFill < HEADER) {
          // A header split across reads. A captured type is held back (never forwarded in
          // pieces); a pass-through type's first bytes go on now.
          if (capture[this.hdr[0]!] !== 0) {
            this.flush(this.pendingStart, wasEmpty ? i - t : 0);
            this.pendingStart = i;
          }
          break;
        }
        type = this.hdr[0]!;
        length = this.hdr.readInt32BE(1);
        headerStart = i - t; // only the part of the header that is in this chunk
        this.hdrFill = 0;
        if (length < 4 || length > this.maxLength) return this.badLength(type, length);
        if (capture[type] !== 0) {
          this.flush(this.pendingStart, wasEmpty ? headerStart : 0);
          this.startCapture(length, HEADER + (n - i));
          this.hdr.copy(this.cap!, 0, 0, HEADER);
          this.capFill = HEADER;
          this.pendingStart = i;
          // An empty body is complete already; otherwise this copies what the chunk holds.
          i = this.continueCapture(chunk, i);
          if (this.stopped) return;
        } else {
          this.skip = length - 4;
        }
        continue;
      }
      type = chunk[i]!;
      length = chunk.readInt32BE(i + 1);
      if (length < 4 || length > this.maxLength) return this.badLength(type, length);
      const total = length + 1;
      if (capture[type] === 0) {
        if (n - i >= total) {
          i += total;
        } else {
          this.skip = total - (n - i);
          i = n;
        }
        continue;
      }
      if (n - i >= total) {
        this.curMsgStart = i;
        i += total;
        const action = this.handler.onMessage(type, chunk, this.curMsgStart + HEADER, i);
        if (this.stopped) {
          // Whatever came before the message that stopped the scan still goes on.
          this.flush(this.pendingStart, this.curMsgStart);
          return;
        }
        if (action === DROP) {
          this.flush(this.pendingStart, this.curMsgStart);
          this.pendingStart = i;
        }
        continue;
      }
      this.flush(this.pendingStart, i);
      this.startCapture(length, n - i);
      chunk.copy(this.cap!, 0, i, n);
      this.capFill = n - i;
      i = n;
      this.pendingStart = n;
    }
    this.flush(this.pendingStart, n);
  }

  /**
   * A captured message split across reads. The length field is the sender's word: memory is
   * taken as its bytes arrive (doubling), not for what it claims, so that a header claiming
   * max_packet_size costs nothing until the bytes are really sent.
   */
  private startCapture(length: number, have: number): void {
    this.capTotal = length + 1;
    this.cap = Buffer.allocUnsafe(Math.min(this.capTotal, Math.max(have, CAPTURE_START)));
  }

  private growCapture(need: number): void {
    const cap = this.cap!;
    const next = Buffer.allocUnsafe(Math.min(this.capTotal, Math.max(need, cap.length * 2)));
    cap.copy(next, 0, 0, this.capFill);
    this.cap = next;
  }

  private continueCapture(chunk: Buffer, i: number): number {
    const t = Math.min(this.capTotal - this.capFill, chunk.length - i);
    if (this.capFill + t > this.cap!.length) this.growCapture(this.capFill + t);
    const cap = this.cap!;
    chunk.copy(cap, this.capFill, i, i + t);
    this.capFill += t;
    i += t;
    this.pendingStart = i;
    this.curMsgStart = i;
    if (this.capFill === this.capTotal) {
      this.cap = null;
      this.capFill = 0;
      const action = this.handler.onMessage(cap[0]!, cap, HEADER, cap.length);
      if (!this.stopped && action === FORWARD) this.pieces.push(cap);
    }
    return i;
  }

  private badLength(type: number, length: number): void {
    this.stopped = true;
    this.handler.onBadLength(type, length);
  }
}
