/**
 * The untyped packets a client sends before login: SSLRequest, GSSENCRequest, CancelRequest
 * and StartupMessage. Lengths are distrusted: the startup phase has its own small limit.
 */
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, MAX_STARTUP_PACKET, SSL_REQUEST_CODE } from './codes.js';
import { PgmoatError } from '../util/errors.js';

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

function protocolError(message: string): PgmoatError {
  return new PgmoatError('BAD_STARTUP', message);
}

/**
 * How many bytes the packet at the start of `buf` needs in total, or 0 when fewer than 4 bytes
 * are there yet. Throws on a length outside PostgreSQL's limits.
 */
export function startupPacketLength(buf: Buffer): number {
  if (buf.length < 4) return 0;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > MAX_STARTUP_PACKET) throw protocolError('invalid length of startup packet');
  return len;
}

/** Parses one whole packet (length included). */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  const len = packet.readInt32BE(0);
  if (len !== packet.length) throw protocolError('invalid length of startup packet');
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE) {
    if (len !== 8) throw protocolError('invalid length of SSLRequest');
    return { kind: 'ssl' };
  }
  if (code === GSSENC_REQUEST_CODE) {
    if (len !== 8) throw protocolError('invalid length of GSSENCRequest');
    return { kind: 'gssenc' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // PostgreSQL 18 allows longer keys; pgmoat hands out 4-byte ones, so anything else is unknown.
    if (len !== 16) throw protocolError('invalid length of CancelRequest');
    return { kind: 'cancel', pid: packet.readInt32BE(8), secret: packet.readInt32BE(12) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new PgmoatError(
      'UNSUPPORTED_PROTOCOL',
      `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
    );
  }
  const params = new Map<string, string>();
  let i = 8;
  // Name/value pairs, each NUL-terminated, then one final NUL.
  for (;;) {
    if (i >= len) throw protocolError('invalid startup packet layout: expected terminator as last byte');
    if (packet[i] === 0) {
      if (i !== len - 1) throw protocolError('invalid startup packet layout: expected terminator as last byte');
      break;
    }
    const nameEnd = packet.indexOf(0, i);
    if (nameEnd < 0 || nameEnd >= len - 1) throw protocolError('invalid startup packet layout: expected terminator as last byte');
    const valueEnd = packet.indexOf(0, nameEnd + 1);
    if (valueEnd < 0 || valueEnd >= len) throw protocolError('invalid startup packet layout: expected terminator as last byte');
    const name = packet.toString('utf8', i, nameEnd);
    const value = packet.toString('utf8', nameEnd + 1, valueEnd);
    if (params.has(name)) throw protocolError(`invalid startup packet: parameter "${name}" given twice`);
    params.set(name, value);
    i = valueEnd + 1;
  }
  if (!params.get('user')) {
    throw new PgmoatError('NO_USER', 'no PostgreSQL user name specified in startup packet', {
      });
  }
  return { kind: 'startup', major, minor, params };
}

/**
 * Splits the `options` startup parameter (`-c name=value` / `--name=value`, backslash escapes
 * as libpq writes them) into settings. Unsupported switches are an error the client sees.
 */
export function parseOptionsParameter(options: string): Map<string, string> {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]!;
    if (ch === '\\' && i + 1 < options.length) {
      cur += options[++i];
      inWord = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  const out = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let setting: string | undefined;
    if (w === '-c') setting = words[++i];
    else if (w.startsWith('-c')) setting = w.slice(2);
    else if (w.startsWith('--')) setting = w.slice(2);
    if (setting === undefined) {
      throw new PgmoatError('UNSUPPORTED_STARTUP_OPTION', `unsupported startup option "${w}": only -c name=value is supported`, {
        });
    }
    const eq = setting.indexOf('=');
    if (eq <= 0) {
      throw new PgmoatError('BAD_OPTIONS', `invalid startup option "${setting}": expected name=value`, {
        });
    }
    out.set(setting.slice(0, eq).replace(/-/g, '_'), setting.slice(eq + 1));
  }
  return out;
}
