/**
 * A new client connection up to its StartupMessage: SSLRequest, GSSENCRequest, direct TLS
 * (a ClientHello first), CancelRequest, and the hand-over of the raw socket to the tls.Server.
 * Nothing read here goes anywhere but the startup parser.
 */
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TLS_HANDSHAKE_RECORD } from '../protocol/codes.js';
import { errorResponseFor } from '../protocol/error-response.js';
import { certRefusalError } from '../util/cert-refusal.js';
import * as msg from '../protocol/messages.js';
import { parseStartupPacket, startupPacketLength } from '../protocol/startup.js';
import { PgmoatError, isPgmoatError } from '../util/errors.js';
import { tlsRequired, type TlsMode } from '../tls/tls-mode.js';
import type { CertCheck } from '../tls/client-tls.js';

export interface LoginRequest {
  socket: Socket | TLSSocket;
  remoteAddress: string;
  remotePort: number;
  tls: TLSSocket | undefined;
  certCheck: CertCheck | undefined;
  params: Map<string, string>;
  /** Bytes that came after the startup packet (a pipelining client). */
  leftover: Buffer | undefined;
  /** When the connection was accepted: client_login_timeout counts from here. */
  startedAt: number;
}

/**
 * How a connection leaves the accept phase: handed to `login`, `refused` (one FATAL, after
 * `refused` was told), or `left` (closed without a refusal: the client went away, sent a
 * CancelRequest, the handshake failed, or the gateway is stopping).
 */
export type AcceptEnd = 'login' | 'refused' | 'left';

export interface AcceptHost {
  readonly tlsMode: TlsMode;
  /** Hands the raw socket to the tls.Server; `onSecure` follows from the server's event. */
  startTls(conn: IncomingConnection): void;
  checkCertificate(socket: TLSSocket): CertCheck;
  login(req: LoginRequest): void;
  /** A connection refused before login, told once, before its FATAL goes out (audit). */
  refused?(conn: IncomingConnection, err: PgmoatError): void;
  cancel(pid: number, secret: number): void;
  /** Called exactly once per connection, when it leaves the accept phase. */
  finished(conn: IncomingConnection, end: AcceptEnd): void;
}

type AcceptPhase = 'negotiate' | 'tls-handshake' | 'startup' | 'done';

const EMPTY = Buffer.alloc(0);

/**
 * Each raw socket's connection, for the tls.Server's events: they give the TLSSocket, and a
 * server-side TLSSocket keeps the socket it wraps in `_parent`. Object identity, where a key of
 * addresses and ports cost a getpeername and a getsockname per socket (24 µs per connection).
 */
const byRawSocket = new WeakMap<Socket, IncomingConnection>();

/** Module-level, so that the raw socket under a logged-in TLS session holds no closure. */
function ignoreError(): void {}

export class IncomingConnection {
  phase: AcceptPhase = 'negotiate';
  readonly startedAt = Date.now();
  readonly remoteAddress: string;
  readonly remotePort: number;
  direct = false;
  /** performance.now() when the raw socket went to the tls.Server (the handshake duration); 0 before. */
  tlsStartedAt = 0;
  private buf: Buffer = EMPTY;
  private socket: Socket | TLSSocket;
  private tlsSocket: TLSSocket | undefined;
  private certCheck: CertCheck | undefined;
  /** The StartupMessage's parameters, once read (for the audit of a refusal). */
  startupParams: Map<string, string> | undefined;
  private readonly onDataBound = (chunk: Buffer): void => this.onData(chunk);
  /** One listener for 'error' and 'close' on both sockets, removed at login (see released()). */
  private readonly closeBound = (): void => this.close();

  constructor(
    readonly raw: Socket,
    private readonly host: AcceptHost,
  ) {
    this.socket = raw;
    this.remoteAddress = raw.remoteAddress ?? '';
    this.remotePort = raw.remotePort ?? 0;
    byRawSocket.set(raw, this);
    raw.on('data', this.onDataBound);
    raw.on('error', this.closeBound);
    raw.on('close', this.closeBound);
  }

  /**
   * The connection a TLS socket of the tls.Server wraps. `_parent` is undocumented but has been
   * there since Node 0.x; were it gone, nothing would be found and the gateway closes the socket.
   */
  static ofTls(socket: TLSSocket): IncomingConnection | undefined {
    const parent = (socket as TLSSocket & { _parent?: unknown })._parent;
    return parent instanceof Socket ? byRawSocket.get(parent) : undefined;
  }

  get tls(): TLSSocket | undefined {
    return this.tlsSocket;
  }

  get certificate(): CertCheck | undefined {
    return this.certCheck;
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'negotiate' && this.buf.length === 0 && chunk[0] === TLS_HANDSHAKE_RECORD && this.host.tlsMode !== 'disable') {
      this.direct = true;
      this.raw.off('data', this.onDataBound);
      this.raw.pause();
      this.raw.unshift(chunk);
      this.phase = 'tls-handshake';
      this.host.startTls(this);
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      this.drain();
    } catch (err) {
      this.fail(isPgmoatError(err) ? err : new PgmoatError('BAD_STARTUP', 'invalid startup packet'));
    }
  }

  private drain(): void {
    while (this.phase === 'negotiate' || this.phase === 'startup') {
      const len = startupPacketLength(this.buf);
      if (len === 0 || this.buf.length < len) return;
      const packet = parseStartupPacket(this.buf.subarray(0, len));
      const rest = this.buf.subarray(len);
      this.buf = rest;
      switch (packet.kind) {
        case 'ssl':
          if (this.tlsSocket) throw new PgmoatError('BAD_STARTUP', 'SSLRequest received inside TLS');
          if (this.host.tlsMode === 'disable') {
            this.socket.write(msg.SSL_REFUSE);
            continue;
          }
          // Bytes sent before the handshake would be taken as if they came through TLS.
          if (rest.length > 0) throw new PgmoatError('PLAINTEXT_AFTER_SSLREQUEST', 'received unencrypted data after SSL request');
          this.raw.off('data', this.onDataBound);
          this.raw.pause();
          this.phase = 'tls-handshake';
          this.raw.write(msg.SSL_ACCEPT);
          this.host.startTls(this);
          return;
        case 'gssenc':
          if (this.tlsSocket) throw new PgmoatError('BAD_STARTUP', 'GSSENCRequest received inside TLS');
          if (rest.length > 0) throw new PgmoatError('PLAINTEXT_AFTER_SSLREQUEST', 'received unencrypted data after GSSAPI encryption request');
          this.socket.write(msg.GSSENC_REFUSE);
          continue;
        case 'cancel':
          // close() does the teardown only while the phase is not 'done' yet: it moves it there.
          this.host.cancel(packet.pid, packet.secret);
          this.close();
          return;
        case 'startup':
          this.onStartup(packet.params, rest);
          return;
      }
    }
  }

  private onStartup(params: Map<string, string>, rest: Buffer): void {
    this.startupParams = params;
    if (this.certCheck && !this.certCheck.ok) {
      throw certRefusalError(this.certCheck.reason, { message: this.certCheck.message });
    }
    if (!this.tlsSocket && tlsRequired(this.host.tlsMode)) {
      throw new PgmoatError('SSL_REQUIRED', 'SSL connection is required', {
        hint: 'Connect with sslmode=verify-full and the client certificate issued for this application.',
      });
    }
    this.phase = 'done';
    this.socket.off('data', this.onDataBound);
    this.socket.pause();
    this.host.finished(this, 'login');
    const req: LoginRequest = {
      socket: this.socket,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      tls: this.tlsSocket,
      certCheck: this.certCheck,
      params,
      leftover: rest.length > 0 ? rest : undefined,
      startedAt: this.startedAt,
    };
    this.released();
    this.host.login(req);
  }

  /**
   * At login the session takes the socket over, and close() has nothing left to do. Without its
   * listeners, nothing reaches this object any more: an idle client does not keep it, its read
   * buffer, the startup Map and the listener arrays alive for the life of the connection.
   */
  private released(): void {
    const raw = this.raw;
    byRawSocket.delete(raw);
    raw.off('error', this.closeBound);
    raw.off('close', this.closeBound);
    // Until the session adds its own listeners (after authentication and the pool's first
    // server, both asynchronous), an 'error' without a listener would be an uncaught exception;
    // the raw socket under a TLS one needs one for as long as it lives.
    raw.on('error', ignoreError);
    const tls = this.tlsSocket;
    if (tls) {
      tls.off('error', this.closeBound);
      tls.off('close', this.closeBound);
      tls.on('error', ignoreError);
    }
    this.buf = EMPTY;
    this.startupParams = undefined;
  }

  /** The tls.Server finished the handshake with this client. */
  onSecure(tlsSocket: TLSSocket): void {
    this.tlsSocket = tlsSocket;
    this.socket = tlsSocket;
    this.phase = 'startup';
    tlsSocket.on('error', this.closeBound);
    tlsSocket.on('close', this.closeBound);
    if (this.direct && tlsSocket.alpnProtocol !== 'postgresql') {
      this.fail(
        new PgmoatError('DIRECT_TLS_WITHOUT_ALPN', 'received direct SSL connection request without ALPN protocol negotiation extension', {
          }),
      );
      return;
    }
    this.certCheck = this.host.checkCertificate(tlsSocket);
    tlsSocket.on('data', this.onDataBound);
  }

  /** Sends one FATAL and closes. */
  fail(err: PgmoatError): void {
    if (this.phase === 'done' && this.socket.destroyed) return;
    // Already finished (handed to login, which threw at once): the FATAL goes out, the end was told.
    const first = this.phase !== 'done';
    this.phase = 'done';
    this.host.refused?.(this, err);
    const s = this.socket;
    if (first) this.host.finished(this, 'refused');
    s.off('data', this.onDataBound);
    if (s.writable) {
      s.end(errorResponseFor(err));
      setTimeout(() => s.destroy(), 1000).unref();
    } else {
      s.destroy();
    }
  }

  close(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.host.finished(this, 'left');
    this.socket.destroy();
    this.raw.destroy();
  }
}
