/**
 * Test-only: PostgreSQL messages built byte by byte (not with pgmoat's own writers, so that a bug
 * there cannot hide itself) and a parser that splits a byte stream into messages.
 */

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

/** A typed message: type byte, length, body. */
export function msg(type: string, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(4 + b.length), b]);
}

// ---- frontend ---------------------------------------------------------------------------------

export const fe = {
  query: (sql: string): Buffer => msg('Q', cstr(sql)),
  parse: (name: string, sql: string, types: number[] = []): Buffer => msg('P', cstr(name), cstr(sql), int16(types.length), ...types.map(int32)),
  /** Bind with no parameters and text results. */
  bind: (portal: string, statement: string): Buffer => msg('B', cstr(portal), cstr(statement), int16(0), int16(0), int16(0)),
  describeStatement: (name: string): Buffer => msg('D', Buffer.from('S'), cstr(name)),
  execute: (portal = '', maxRows = 0): Buffer => msg('E', cstr(portal), int32(maxRows)),
  closeStatement: (name: string): Buffer => msg('C', Buffer.from('S'), cstr(name)),
  sync: (): Buffer => msg('S'),
  flush: (): Buffer => msg('H'),
  terminate: (): Buffer => msg('X'),
};

// ---- backend ----------------------------------------------------------------------------------

export const be = {
  ready: (status: 'I' | 'T' | 'E' = 'I'): Buffer => msg('Z', Buffer.from(status)),
  commandComplete: (tag: string): Buffer => msg('C', cstr(tag)),
  parseComplete: (): Buffer => msg('1'),
  bindComplete: (): Buffer => msg('2'),
  closeComplete: (): Buffer => msg('3'),
  noData: (): Buffer => msg('n'),
  parameterDescription: (): Buffer => msg('t', int16(0)),
  dataRow: (value: string): Buffer => msg('D', int16(1), int32(Buffer.byteLength(value)), Buffer.from(value)),
  error: (code: string, message: string): Buffer => msg('E', Buffer.from('S'), cstr('ERROR'), Buffer.from('C'), cstr(code), Buffer.from('M'), cstr(message), Buffer.from([0])),
  parameterStatus: (name: string, value: string): Buffer => msg('S', cstr(name), cstr(value)),
};

// ---- reading ----------------------------------------------------------------------------------

export interface Message {
  type: string;
  body: Buffer;
}

/** The whole messages in `buf`; a trailing part of a message is an error in these tests. */
export function messages(buf: Buffer): Message[] {
  const out: Message[] = [];
  let i = 0;
  while (i < buf.length) {
    if (buf.length - i < 5) throw new Error(`a partial header at ${i}`);
    const len = buf.readInt32BE(i + 1);
    if (buf.length - i < len + 1) throw new Error(`a partial message at ${i}`);
    out.push({ type: String.fromCharCode(buf[i]!), body: buf.subarray(i + 5, i + 1 + len) });
    i += len + 1;
  }
  return out;
}

/** Message types of `buf` as one string, e.g. "12CZ". */
export function types(buf: Buffer): string {
  return messages(buf)
    .map((m) => m.type)
    .join('');
}

/** The first NUL-terminated string of a body from `at`. */
export function cstringAt(body: Buffer, at = 0): string {
  return body.toString('utf8', at, body.indexOf(0, at));
}

/** The SQLSTATE and message of an ErrorResponse body. */
export function errorOf(body: Buffer): { code: string; message: string; severity: string } {
  const f: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    f[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return { code: f['C'] ?? '', message: f['M'] ?? '', severity: f['S'] ?? '' };
}
