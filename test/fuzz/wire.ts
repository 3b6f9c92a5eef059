/**
 * Wire pieces of the fuzzer, written here byte by byte rather than taken from pgmoat's own
 * builders (a bug there must not hide itself): frontend messages, and a bounded reader of the
 * backend stream that keeps counts and the few bodies the probe needs, never the whole stream.
 */

export const PROTOCOL_3_0 = 0x0003_0000;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n | 0);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

/** A startup-phase packet: length, code or version, body. */
export function untyped(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32(8 + body.length), int32(code), body]);
}

export function startupBody(params: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat([...params.map(([k, v]) => Buffer.concat([cstr(k), cstr(v)])), Buffer.from([0])]);
}

export function startup(params: readonly (readonly [string, string])[], version = PROTOCOL_3_0): Buffer {
  return untyped(version, startupBody(params));
}

export const SSL_REQUEST = untyped(SSL_REQUEST_CODE);
export const GSSENC_REQUEST = untyped(GSSENC_REQUEST_CODE);

export function cancelRequest(pid: number, secret: number): Buffer {
  return untyped(CANCEL_REQUEST_CODE, Buffer.concat([int32(pid), int32(secret)]));
}

/** A typed message: type byte, length (counting itself), body. */
export function typed(type: string | number, body: Buffer = Buffer.alloc(0)): Buffer {
  const t = typeof type === 'number' ? type : type.charCodeAt(0);
  return Buffer.concat([Buffer.from([t]), int32(4 + body.length), body]);
}

export const fe = {
  query: (sql: string): Buffer => typed('Q', cstr(sql)),
  parse: (name: string, sql: string, types: readonly number[] = []): Buffer =>
    typed('P', Buffer.concat([cstr(name), cstr(sql), int16(types.length), ...types.map(int32)])),
  bind: (portal: string, stmt: string, params: readonly (string | null)[], resultFormats: readonly number[] = []): Buffer => {
    const values = params.map((p) => (p === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(p)), Buffer.from(p, 'utf8')])));
    return typed(
      'B',
      Buffer.concat([cstr(portal), cstr(stmt), int16(0), int16(params.length), ...values, int16(resultFormats.length), ...resultFormats.map(int16)]),
    );
  },
  describe: (kind: 'S' | 'P', name: string): Buffer => typed('D', Buffer.concat([Buffer.from(kind), cstr(name)])),
  execute: (portal: string, maxRows = 0): Buffer => typed('E', Buffer.concat([cstr(portal), int32(maxRows)])),
  close: (kind: 'S' | 'P', name: string): Buffer => typed('C', Buffer.concat([Buffer.from(kind), cstr(name)])),
  sync: (): Buffer => typed('S'),
  flush: (): Buffer => typed('H'),
  /** FunctionCall of `oid` with text arguments. */
  functionCall: (oid: number, args: readonly string[]): Buffer =>
    typed(
      'F',
      Buffer.concat([int32(oid), int16(0), int16(args.length), ...args.map((a) => Buffer.concat([int32(Buffer.byteLength(a)), Buffer.from(a)])), int16(0)]),
    ),
  copyData: (data: Buffer | string): Buffer => typed('d', typeof data === 'string' ? Buffer.from(data) : data),
  copyDone: (): Buffer => typed('c'),
  copyFail: (reason: string): Buffer => typed('f', cstr(reason)),
  terminate: (): Buffer => typed('X'),
  password: (s: string): Buffer => typed('p', cstr(s)),
};

/**
 * True when `buf` is whole typed messages end to end, each length in [4, maxLength]: a stream
 * the peer can stay in step with (a probe sent after it is read as a message of its own).
 */
export function isFramed(buf: Buffer, maxLength = 1 << 20): boolean {
  let i = 0;
  while (i < buf.length) {
    if (buf.length - i < 5) return false;
    const len = buf.readInt32BE(i + 1);
    if (len < 4 || len > maxLength) return false;
    i += 1 + len;
  }
  return i === buf.length;
}

/** Message boundaries of a framed buffer: [start, end) of each message. */
export function splitFramed(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  while (buf.length - i >= 5) {
    const len = buf.readInt32BE(i + 1);
    if (len < 4 || i + 1 + len > buf.length) break;
    out.push([i, i + 1 + len]);
    i += 1 + len;
  }
  return out;
}

/**
 * Reads a backend byte stream incrementally: counts messages and ErrorResponse SQLSTATEs, and
 * watches for a DataRow holding the probe's marker followed by a ReadyForQuery. Bodies are kept
 * only for small messages of those kinds, so a large answer costs no memory here.
 */
export class BackendReader {
  messages = 0;
  bytes = 0;
  /** Set when the stream stopped making sense (a length under 4): nothing more is parsed. */
  garbled = false;
  readyCount = 0;
  /** BackendKeyData of the login, when one came. */
  key: { pid: number; secret: number } | undefined;
  /** SQLSTATE of the first ErrorResponse, and the last one. */
  firstError: string | undefined;
  lastError: string | undefined;
  /** Message text of ErrorResponses in class XX (internal error) or without a SQLSTATE: worth a look. */
  internal: string | undefined;
  /** First byte(s) seen before any message: the one-byte answer to an SSLRequest or GSSENCRequest. */
  private marker: Buffer | undefined;
  private markerSeenAt = -1;
  private probeDone = false;
  private hdr = Buffer.alloc(5);
  private hdrFill = 0;
  private bodyLeft = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private type = 0;
  private waiter: (() => void) | undefined;

  /** Bytes that are not messages come first (an 'S', 'N' or 'G' answer): how many to take raw. */
  rawPrefix = 0;
  readonly raw: number[] = [];

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let i = 0;
    while (this.rawPrefix > 0 && i < chunk.length) {
      this.raw.push(chunk[i]!);
      this.rawPrefix--;
      i++;
    }
    while (i < chunk.length && !this.garbled) {
      if (this.bodyLeft > 0) {
        const t = Math.min(this.bodyLeft, chunk.length - i);
        if (this.body) chunk.copy(this.body, this.bodyFill, i, i + t);
        this.bodyFill += t;
        this.bodyLeft -= t;
        i += t;
        if (this.bodyLeft === 0) this.onMessage();
        continue;
      }
      const t = Math.min(5 - this.hdrFill, chunk.length - i);
      chunk.copy(this.hdr, this.hdrFill, i, i + t);
      this.hdrFill += t;
      i += t;
      if (this.hdrFill < 5) break;
      this.hdrFill = 0;
      this.type = this.hdr[0]!;
      const len = this.hdr.readInt32BE(1);
      if (len < 4) {
        this.garbled = true;
        break;
      }
      this.bodyLeft = len - 4;
      this.bodyFill = 0;
      const keep = (this.type === 0x44 || this.type === 0x45 || this.type === 0x4b || this.type === 0x5a) && this.bodyLeft <= 4096;
      this.body = keep ? Buffer.allocUnsafe(this.bodyLeft) : undefined;
      if (this.bodyLeft === 0) this.onMessage();
    }
    this.wake();
  }

  private onMessage(): void {
    this.messages++;
    const body = this.body;
    this.body = undefined;
    switch (this.type) {
      case 0x5a: // ReadyForQuery
        this.readyCount++;
        if (this.markerSeenAt >= 0) this.probeDone = true;
        break;
      case 0x4b: // BackendKeyData
        if (body && body.length >= 8) this.key = { pid: body.readInt32BE(0), secret: body.readInt32BE(4) };
        break;
      case 0x45: {
        const code = body ? sqlstateOf(body) : '?????';
        if ((code.startsWith('XX') || code === '?????') && body) this.internal ??= `${code} ${fieldOf(body, 0x4d) ?? ''}`;
        this.firstError ??= code;
        this.lastError = code;
        break;
      }
      case 0x44:
        if (body && this.marker && body.includes(this.marker)) this.markerSeenAt = this.messages;
        break;
    }
  }

  /** Starts watching for a DataRow holding `marker` and the ReadyForQuery after it. */
  expectProbe(marker: Buffer): void {
    this.marker = marker;
    this.markerSeenAt = -1;
    this.probeDone = false;
  }

  get probeAnswered(): boolean {
    return this.probeDone;
  }

  /** Resolves at the next chunk (or `kick`). */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Wakes a `next()` waiter (the socket closed). */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

function fieldOf(body: Buffer, code: number): string | undefined {
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    if (body[i] === code) return body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return undefined;
}

function sqlstateOf(body: Buffer): string {
  return fieldOf(body, 0x43) ?? '?????';
}
