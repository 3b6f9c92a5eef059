/**
 * A hand-made PostgreSQL client for wire tests: packets built here byte by byte (not with
 * pgmoat's own builders, so that a bug there cannot hide itself), a connection that records
 * everything it receives, and the backend messages parsed from it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientFiles } from '../harness/cert-factory.js';
import { nodeSsl } from './helpers.js';

export const PROTOCOL_3_0 = 0x0003_0000;

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A startup-phase packet: length, then the code/version, then the body. */
export function untypedPacket(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32(8 + body.length), int32(code), body]);
}

export function startupPacket(params: Record<string, string>, version = PROTOCOL_3_0): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(params)) parts.push(Buffer.from(`${k}\0${v}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  return untypedPacket(version, Buffer.concat(parts));
}

export const SSL_REQUEST = untypedPacket(80877103);
export const GSSENC_REQUEST = untypedPacket(80877104);

export function cancelRequest(pid: number, secret: number): Buffer {
  return untypedPacket(80877102, Buffer.concat([int32(pid), int32(secret)]));
}

/** A typed message: type byte, length, body. */
export function typedMessage(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(4 + body.length), body]);
}

export function queryMessage(sql: string): Buffer {
  return typedMessage('Q', Buffer.from(`${sql}\0`, 'utf8'));
}

export const TERMINATE = typedMessage('X');

export interface BackendMessage {
  type: string;
  body: Buffer;
}

/** Whole messages in `buf` (a trailing partial one is left out). */
export function parseMessages(buf: Buffer): BackendMessage[] {
  const out: BackendMessage[] = [];
  let i = 0;
  while (buf.length - i >= 5) {
    const len = buf.readInt32BE(i + 1);
    if (len < 4 || buf.length - i < len + 1) break;
    out.push({ type: String.fromCharCode(buf[i]!), body: buf.subarray(i + 5, i + 1 + len) });
    i += len + 1;
  }
  return out;
}

/** Fields of an ErrorResponse/NoticeResponse body, by their one-letter codes. */
export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    out[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}

/** A socket that records every byte it receives and whether (and when) it closed. */
export class RawConn {
  received = Buffer.alloc(0);
  closed = false;
  readonly closedPromise: Promise<void>;
  /** Bytes already consumed by readBytes (the one-byte SSL answer). */
  private consumed = 0;

  constructor(readonly socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        resolve();
      });
    });
  }

  static async open(port: number): Promise<RawConn> {
    const s = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawConn(s);
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  /** The TLS socket, when this connection is one. */
  get tls(): TLSSocket | undefined {
    return 'getProtocol' in this.socket ? this.socket : undefined;
  }

  /** Messages received after the bytes read by readBytes. */
  messages(): BackendMessage[] {
    return parseMessages(this.received.subarray(this.consumed));
  }

  /** Waits until `check` holds on the messages so far, or the socket closes, or `timeoutMs` passes. */
  async until(check: (m: BackendMessage[]) => boolean, timeoutMs = 10_000): Promise<BackendMessage[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages();
      if (check(m) || this.closed || Date.now() > end) return m;
      await sleep(10);
    }
  }

  /** The first ErrorResponse, once one arrived (or the socket closed without one). */
  async error(timeoutMs = 10_000): Promise<Record<string, string> | undefined> {
    const m = await this.until((ms) => ms.some((x) => x.type === 'E'), timeoutMs);
    const e = m.find((x) => x.type === 'E');
    return e ? errorFields(e.body) : undefined;
  }

  /** Resolves true once the peer closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closedPromise.then(() => true), timedOut]);
    clearTimeout(timer);
    return r;
  }

  /** The next `n` raw bytes (e.g. the one-byte answer to an SSLRequest). */
  async readBytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const end = Date.now() + timeoutMs;
    while (this.received.length - this.consumed < n && !this.closed && Date.now() < end) await sleep(5);
    const out = this.received.subarray(this.consumed, this.consumed + n);
    this.consumed += out.length;
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface TlsOptions {
  cert?: ClientFiles;
  /** ALPN protocols to offer; undefined offers none. */
  alpn?: string[];
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

function tlsOptions(o: TlsOptions): Record<string, unknown> {
  const ssl = o.cert ? nodeSsl(o.cert) : undefined;
  return {
    host: '127.0.0.1',
    servername: 'localhost',
    ...(ssl ? ssl : {}),
    ...(o.alpn ? { ALPNProtocols: o.alpn } : {}),
    ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
  };
}

function secure(s: TLSSocket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** SSLRequest, 'S', then a TLS handshake on the same socket. */
export async function openTls(port: number, o: TlsOptions): Promise<RawConn> {
  const raw = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  raw.write(SSL_REQUEST);
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
  });
  if (answer.length !== 1 || answer[0] !== 0x53) throw new Error(`SSLRequest answered with ${answer.toString('hex')}`);
  const s = tlsConnect({ socket: raw, ...tlsOptions(o) });
  const conn = new RawConn(s);
  await secure(s);
  return conn;
}

/** Direct TLS (PostgreSQL 17's sslnegotiation=direct): a ClientHello first. */
export async function openDirectTls(port: number, o: TlsOptions): Promise<RawConn> {
  const s = tlsConnect({ port, ...tlsOptions(o) });
  const conn = new RawConn(s);
  await secure(s);
  return conn;
}

/** Sends a StartupMessage and waits for ReadyForQuery (or an error). */
export async function login(conn: RawConn, params: Record<string, string>): Promise<BackendMessage[]> {
  conn.write(startupPacket(params));
  return conn.until((m) => m.some((x) => x.type === 'Z' || x.type === 'E'));
}

/**
 * Direct TLS 1.3 with the client's certificate, offering `session` when given, and a login as
 * `app` to `appdb`: whether the session was resumed, the session tickets received (all of
 * them: they arrive before any answer to the login) and the last one.
 */
export function resumableLogin(port: number, client: ClientFiles, session?: Buffer): Promise<{ reused: boolean; tickets: number; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let tickets = 0;
    let ticket: Buffer | undefined;
    let received = Buffer.alloc(0);
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['postgresql'], minVersion: 'TLSv1.3', ...nodeSsl(client), ...(session ? { session } : {}) });
    s.on('session', (t: Buffer) => {
      tickets++;
      ticket = t;
    });
    s.on('error', reject);
    s.once('secureConnect', () => s.write(startupPacket({ user: 'app', database: 'appdb' })));
    s.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      const msgs = parseMessages(received);
      if (msgs.some((m) => m.type === 'E')) return reject(new Error('login refused'));
      if (!msgs.some((m) => m.type === 'Z')) return;
      const out = { reused: s.isSessionReused(), tickets, ticket };
      s.removeAllListeners('error');
      s.on('error', () => undefined);
      s.destroy();
      resolve(out);
    });
  });
}
