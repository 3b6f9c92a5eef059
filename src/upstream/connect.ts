/**
 * Opens one server connection: TCP, the SSLRequest and TLS per the upstream's mode, the startup
 * message and authentication (SCRAM-SHA-256, md5, cleartext, trust, certificate), then reads
 * ParameterStatus and BackendKeyData up to the first ReadyForQuery. Runs once per server
 * connection, never per message.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, checkServerIdentity, type TLSSocket, type ConnectionOptions } from 'node:tls';
import { Backend, TxStatus } from '../protocol/codes.js';
import { DROP, FrameScanner, type FrameHandler } from '../protocol/frame-scanner.js';
import { parseErrorFields, type ErrorFields } from '../protocol/error-response.js';
import * as msg from '../protocol/messages.js';
import { SqlState } from '../protocol/sqlstate.js';
import { PasswordAuthClient } from '../auth/password-auth-client.js';
import { PgmoatError, assertNever, errorMessage, isPgmoatError } from '../util/errors.js';
import type { UpstreamTarget, UpstreamTls } from './target.js';
import { UpstreamReader, readFrom, stopReading } from './reader.js';
import { classifySslAnswer, type SslAnswer } from '../protocol/ssl-answer.js';

export interface UpstreamSession {
  socket: Socket | TLSSocket;
  params: Map<string, string>;
  pid: number;
  secret: number;
  /** e.g. TLSv1.3, or undefined for a plain connection. */
  tlsProtocol: string | undefined;
  /** Plain connections (tls.mode disable, allow's plain attempt, prefer answered 'N') read through the shared buffer; null: 'data' events (TLS). */
  reader: UpstreamReader | null;
}

/** An error the upstream sent during login; `fields` is its ErrorResponse, forwarded as is. */
export class UpstreamError extends PgmoatError {
  readonly fields: ErrorFields | undefined;
  constructor(code: string, message: string, opts: { sqlstate: string; fields?: ErrorFields; cause?: unknown }) {
    super(code, message, { sqlstate: opts.sqlstate, severity: 'FATAL', cause: opts.cause });
    this.fields = opts.fields;
  }
}

function where(t: UpstreamTarget): string {
  return `upstream "${t.label}" (${t.host}:${t.port})`;
}

/**
 * `reader`: read through it (`onread`) instead of 'data'. A socket opened with one can still turn
 * into TLS after the SSLRequest: Node's TLSSocket then reads the handle itself, and the reader
 * gets nothing more.
 */
export function connectTcp(t: UpstreamTarget, signal: AbortSignal, reader: UpstreamReader | null = null): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: t.host,
      port: t.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      ...(reader ? { onread: reader.option } : {}),
    });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new UpstreamError('UPSTREAM_CONNECT', `could not connect to ${where(t)}: ${err.code ?? err.message}`, {
          sqlstate: SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
          cause: err,
        }),
      );
    });
  });
}

/** Sends SSLRequest and reads the one-byte answer; anything after it is an attack (CVE-2021-23222). */
export function sslRequest(t: UpstreamTarget, socket: Socket, signal: AbortSignal, reader: UpstreamReader | null = null): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stopReading(socket, reader, onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      socket.pause();
      const answer = classifySslAnswer(chunk);
      if (answer.kind === 'tls' || answer.kind === 'plain') {
        resolve(answer.kind === 'tls');
        return;
      }
      socket.destroy();
      reject(new UpstreamError('UPSTREAM_PROTOCOL', `${where(t)} sent an invalid answer to SSLRequest: ${invalidSslAnswer(answer)}`, { sqlstate: SqlState.PROTOCOL_VIOLATION }));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new UpstreamError('UPSTREAM_CONNECT', `${where(t)}: ${errorMessage(err)}`, { sqlstate: SqlState.CONNECTION_FAILURE, cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new UpstreamError('UPSTREAM_CONNECT', `${where(t)} closed the connection during SSL negotiation`, { sqlstate: SqlState.CONNECTION_FAILURE }));
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    readFrom(socket, reader, onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(msg.SSL_REQUEST);
  });
}

function invalidSslAnswer(answer: Exclude<SslAnswer, { kind: 'tls' | 'plain' }>): string {
  switch (answer.kind) {
    case 'injected':
      return `'S' followed by ${answer.extraBytes} unencrypted bytes, refused (CVE-2021-23222): something between pgmoat and the server may be injecting data`;
    case 'error-response':
      return 'an ErrorResponse: the server does not negotiate SSL (a very old PostgreSQL, or not PostgreSQL); check the database\'s host and port, or set its tls.mode to disable';
    case 'foreign':
      return `bytes that are not PostgreSQL's 'S' or 'N' (first bytes ${answer.firstBytes}); check the database's host and port: another kind of server listens there`;
    default:
      return assertNever(answer, 'SSLRequest answer');
  }
}

export function upstreamTlsOptions(t: UpstreamTarget, tls: UpstreamTls): ConnectionOptions {
  const verify = tls.mode === 'verify-ca' || tls.mode === 'verify-full';
  const name = tls.servername ?? t.host;
  return {
    ...(isIP(name) === 0 ? { servername: name } : {}),
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    minVersion: tls.minVersion,
    rejectUnauthorized: verify,
    ALPNProtocols: ['postgresql'],
    checkServerIdentity: tls.mode === 'verify-full' ? (_host, cert) => checkServerIdentity(name, cert) : () => undefined,
  };
}

export function startTls(t: UpstreamTarget, socket: Socket, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tlsSocket = tlsConnect({ socket, ...upstreamTlsOptions(t, t.tls) });
    const onAbort = (): void => {
      tlsSocket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    tlsSocket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      tlsSocket.removeAllListeners('error');
      resolve(tlsSocket);
    });
    tlsSocket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      tlsSocket.destroy();
      reject(
        new UpstreamError('UPSTREAM_TLS', `TLS to ${where(t)} failed: ${err.code ? `${err.code}: ` : ''}${err.message}`, {
          sqlstate: SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
          cause: err,
        }),
      );
    });
  });
}

/** Drives the startup and authentication exchange over an open socket. */
class UpstreamLogin implements FrameHandler {
  private readonly scanner: FrameScanner;
  readonly params = new Map<string, string>();
  private pid = 0;
  private secret = 0;
  private readonly authClient: PasswordAuthClient;
  private done = false;

  constructor(
    private readonly t: UpstreamTarget,
    private readonly socket: Socket | TLSSocket,
    private readonly reader: UpstreamReader | null,
    private readonly resolve: (s: UpstreamSession) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.scanner = new FrameScanner(this, { write: () => undefined }, 1 << 20);
    this.authClient = new PasswordAuthClient(t.user, t.password);
    this.scanner.captureAll();
  }

  start(signal: AbortSignal): void {
    const s = this.socket;
    const onData = (chunk: Buffer): void => this.scanner.scan(chunk);
    const onError = (err: Error): void =>
      this.fail(new UpstreamError('UPSTREAM_LOGIN', `${where(this.t)}: ${errorMessage(err)}`, { sqlstate: SqlState.CONNECTION_FAILURE, cause: err }));
    const onClose = (): void =>
      this.fail(new UpstreamError('UPSTREAM_LOGIN', `${where(this.t)} closed the connection during login`, { sqlstate: SqlState.CONNECTION_FAILURE }));
    const onAbort = (): void => this.fail(signal.reason as Error);
    const reader = this.reader;
    this.cleanup = () => {
      stopReading(s, reader, onData);
      s.off('error', onError);
      s.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    // The login's scanner captures every message and handles it within the call (copying what
    // spans reads), so views of the shared read buffer are safe here.
    readFrom(s, reader, onData);
    s.on('error', onError);
    s.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    const params = new Map<string, string>([
      ['user', this.t.user],
      ['database', this.t.dbname],
      ...(this.t.startupParams ?? new Map<string, string>()),
    ]);
    s.write(msg.startupMessage(params));
    s.resume();
  }

  private cleanup: () => void = () => undefined;

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    this.scanner.stop();
    this.socket.destroy();
    this.reject(err);
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): typeof DROP {
    if (this.done) return DROP;
    try {
      this.handle(type, buf.subarray(start, end));
    } catch (err) {
      this.fail(this.named(err));
    }
    return DROP;
  }

  /** A failure inside the exchange (a SCRAM message that does not verify) says which upstream it was. */
  private named(err: unknown): Error {
    if (err instanceof UpstreamError) return err;
    // Not UPSTREAM_LOGIN (a socket that failed, worth retrying): a password or SCRAM exchange
    // that does not verify will not verify on the next attempt either.
    return new UpstreamError('UPSTREAM_AUTH', `${where(this.t)}: ${errorMessage(err)}`, {
      sqlstate: isPgmoatError(err) && err.sqlstate !== undefined ? err.sqlstate : SqlState.PROTOCOL_VIOLATION,
      cause: err,
    });
  }

  private handle(type: number, body: Buffer): void {
    switch (type) {
      case Backend.Authentication:
        this.auth(body);
        return;
      case Backend.ParameterStatus: {
        const nameEnd = body.indexOf(0);
        const valueEnd = body.indexOf(0, nameEnd + 1);
        if (nameEnd > 0 && valueEnd > nameEnd) this.params.set(body.toString('utf8', 0, nameEnd), body.toString('utf8', nameEnd + 1, valueEnd));
        return;
      }
      case Backend.BackendKeyData:
        if (body.length >= 8) {
          this.pid = body.readInt32BE(0);
          this.secret = body.readInt32BE(4);
        }
        return;
      case Backend.ErrorResponse: {
        const fields = parseErrorFields(body);
        throw new UpstreamError('UPSTREAM_LOGIN_REFUSED', `${where(this.t)}: ${fields.message}`, { sqlstate: fields.code, fields });
      }
      case Backend.ReadyForQuery: {
        if (body[0] !== TxStatus.Idle) throw new UpstreamError('UPSTREAM_PROTOCOL', `${where(this.t)} was not idle after login`, { sqlstate: SqlState.PROTOCOL_VIOLATION });
        this.done = true;
        this.cleanup();
        this.scanner.stop();
        this.socket.pause();
        const tlsProtocol = 'getProtocol' in this.socket ? ((this.socket as TLSSocket).getProtocol() ?? undefined) : undefined;
        this.resolve({ socket: this.socket, params: this.params, pid: this.pid, secret: this.secret, tlsProtocol, reader: this.reader });
        return;
      }
      case Backend.NoticeResponse:
      case Backend.NegotiateProtocolVersion:
        return;
      default:
        throw new UpstreamError('UPSTREAM_PROTOCOL', `${where(this.t)} sent unexpected message type ${type} during login`, { sqlstate: SqlState.PROTOCOL_VIOLATION });
    }
  }

  private auth(body: Buffer): void {
    const step = this.authClient.answer(body);
    switch (step.kind) {
      case 'nothing':
        return;
      case 'send':
        this.socket.write(step.message);
        return;
      case 'needs-password':
        throw new UpstreamError(
          'UPSTREAM_NO_PASSWORD',
          `${where(this.t)} asks a password for role "${this.t.user}", but none is configured (set password_file or password_env for database "${this.t.label}")`,
          { sqlstate: SqlState.INVALID_PASSWORD },
        );
      case 'malformed':
        throw new UpstreamError('UPSTREAM_PROTOCOL', `${where(this.t)} sent ${step.message}`, { sqlstate: SqlState.PROTOCOL_VIOLATION });
      case 'unsupported':
        throw new UpstreamError(
          'UPSTREAM_AUTH_UNSUPPORTED',
          `${where(this.t)} asks role "${this.t.user}" for ${step.name} authentication, which pgmoat does not support upstream (give the role scram-sha-256, md5, password, trust or cert in the server's pg_hba.conf)`,
          { sqlstate: SqlState.FEATURE_NOT_SUPPORTED },
        );
      default:
        assertNever(step, 'authentication step');
    }
  }

  onBadLength(_type: number, length: number): void {
    this.fail(new UpstreamError('UPSTREAM_PROTOCOL', `${where(this.t)} sent a message of invalid length ${length}`, { sqlstate: SqlState.PROTOCOL_VIOLATION }));
  }
}

async function attempt(t: UpstreamTarget, useTls: 'never' | 'try' | 'must', signal: AbortSignal): Promise<UpstreamSession> {
  // 'try' (prefer) reads through the shared buffer too: a server that answers 'N' stays plain.
  let reader = useTls === 'must' ? null : new UpstreamReader();
  let socket: Socket | TLSSocket = await connectTcp(t, signal, reader);
  try {
    if (useTls !== 'never') {
      const accepted = await sslRequest(t, socket, signal, reader);
      if (accepted) {
        socket = await startTls(t, socket, signal);
        reader = null; // the TLS socket reads the handle itself
      } else if (useTls === 'must') {
        throw new UpstreamError('UPSTREAM_TLS', `${where(t)} does not support SSL, but tls.mode is ${t.tls.mode}`, {
          sqlstate: SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
        });
      }
    }
    return await new Promise<UpstreamSession>((resolve, reject) => new UpstreamLogin(t, socket, reader, resolve, reject).start(signal));
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Connects and logs in, within t.connectTimeoutMs. */
export async function connectUpstream(t: UpstreamTarget): Promise<UpstreamSession> {
  const signal = AbortSignal.timeout(t.connectTimeoutMs > 0 ? t.connectTimeoutMs : 2 ** 31 - 1);
  const timeoutError = (): UpstreamError =>
    new UpstreamError('UPSTREAM_TIMEOUT', `${where(t)} did not complete login within server_connect_timeout (${t.connectTimeoutMs} ms)`, {
      sqlstate: SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    });
  try {
    switch (t.tls.mode) {
      case 'disable':
        return await attempt(t, 'never', signal);
      case 'allow':
        try {
          return await attempt(t, 'never', signal);
        } catch (err) {
          // libpq's allow: try plain first, then TLS when the server refused the plain login.
          if (err instanceof UpstreamError && err.sqlstate === SqlState.INVALID_AUTHORIZATION_SPECIFICATION) {
            return await attempt(t, 'must', signal);
          }
          throw err;
        }
      case 'prefer':
        return await attempt(t, 'try', signal);
      case 'require':
      case 'verify-ca':
      case 'verify-full':
        return await attempt(t, 'must', signal);
    }
  } catch (err) {
    if (signal.aborted && !(err instanceof UpstreamError)) throw timeoutError();
    throw err;
  }
}
