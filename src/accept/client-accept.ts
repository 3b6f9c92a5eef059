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
import { readProxyHeader } from './proxy-header.js';
import type { ProxyExpectation } from './proxy-policy.js';

export interface LoginRequest {
  socket: Socket | TLSSocket;
  remoteAddress: string;
  remotePort: number;
  /** The load balancer's address, when a PROXY header named the client (remoteAddress). */
  via: string | undefined;
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
  /**
   * With listen.proxy_protocol, for a trusted balancer's connection once its header was read (or
   * found absent where allowed): the admission at accept (rate limits) with the client's address.
   * false: the connection is closed without a word (the host logged why).
   */
  admit?(conn: IncomingConnection): boolean;
  /** A connection refused over its PROXY header (or the lack of one): closed, nothing sent. */
  proxyRefused?(conn: IncomingConnection, reason: string): void;
  /** Called exactly once per connection, when it leaves the accept phase. */
  finished(conn: IncomingConnection, end: AcceptEnd): void;
}

type AcceptPhase = 'proxy' | 'negotiate' | 'tls-handshake' | 'startup' | 'done';

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
  phase: AcceptPhase;
  readonly startedAt = Date.now();
  /** The client's address: the socket's, or the one a trusted balancer's PROXY header gave. */
  remoteAddress: string;
  remotePort: number;
  /** The balancer's (the socket's) address, when a PROXY header named the client. */
  via: string | undefined;
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
    private readonly proxy: ProxyExpectation = 'off',
  ) {
    this.phase = proxy === 'off' ? 'negotiate' : 'proxy';
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
    if (this.phase === 'proxy') {
      this.onProxyData(chunk);
      return;
    }
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

  /**
   * The first bytes with listen.proxy_protocol on: a PROXY header, or (where allowed) none. The
   * header is bounded (proxy-header.ts); the login timeout bounds a peer that stops inside it.
   */
  private onProxyData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const r = readProxyHeader(this.buf);
    switch (r.kind) {
      case 'more':
        return;
      case 'invalid':
        this.refuseProxy(r.reason);
        return;
      case 'absent':
        if (this.proxy === 'require') {
          this.refuseProxy('no PROXY header from a trusted address (listen.proxy_protocol.required is true)');
          return;
        }
        break;
      case 'header':
        if (this.proxy === 'refuse') {
          this.refuseProxy(`a PROXY v${r.version} header from an address not in listen.proxy_protocol.trusted`);
          return;
        }
        // LOCAL (a balancer's health check), UNKNOWN, UNIX or UDP: the balancer's own address stands.
        if (r.source !== undefined) {
          this.via = this.remoteAddress;
          this.remoteAddress = r.source.address;
          this.remotePort = r.source.port;
        }
        this.buf = this.buf.subarray(r.length);
        break;
    }
    this.phase = 'negotiate';
    // An untrusted peer was admitted at accept, by its own address; a balancer's client is now.
    if (this.proxy !== 'refuse' && this.host.admit !== undefined && !this.host.admit(this)) {
      this.close();
      return;
    }
    const rest = this.buf;
    this.buf = EMPTY;
    if (rest.length > 0) this.onData(rest);
  }

  private refuseProxy(reason: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.host.proxyRefused?.(this, reason);
    this.host.finished(this, 'refused');
    this.buf = EMPTY;
    this.raw.destroy();
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
      via: this.via,
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
    // Inside a PROXY header (or a balancer's connection that sent nothing): no PostgreSQL client
    // to answer; an untrusted peer that sent nothing yet gets the FATAL any client would.
    if (this.phase === 'proxy' && (this.buf.length > 0 || this.proxy !== 'refuse')) {
      this.refuseProxy(this.buf.length > 0 ? `an incomplete PROXY header (${this.buf.length} bytes): ${err.message}` : `no PROXY header: ${err.message}`);
      return;
    }
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
    // The peer hung up inside its header (a gateway stopping closes it without a refusal).
    if (this.phase === 'proxy' && this.buf.length > 0 && this.raw.destroyed) {
      this.refuseProxy(`the connection closed inside a PROXY header (after ${this.buf.length} bytes)`);
      return;
    }
    this.phase = 'done';
    this.host.finished(this, 'left');
    this.socket.destroy();
    this.raw.destroy();
  }
}
