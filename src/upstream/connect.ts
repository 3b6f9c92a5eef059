/**
 * Opens one server connection: TCP, the SSLRequest and TLS per the upstream's mode, the startup
 * message and authentication (SCRAM-SHA-256, md5, cleartext, trust, certificate), then reads
 * ParameterStatus and BackendKeyData up to the first ReadyForQuery. Runs once per server
 * connection, never per message.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, checkServerIdentity, type TLSSocket, type ConnectionOptions } from 'node:tls';
import { TxStatus } from '../protocol/codes.js';
import type { ErrorFields } from '../protocol/error-response.js';
import { SqlState } from '../util/sqlstate.js';
import type { SslAnswer } from '../protocol/ssl-answer.js';
import type { ErrorCode } from '../util/error-codes.js';
import { PgmoatError, assertNever, errorMessage, isPgmoatError } from '../util/errors.js';
import type { UpstreamTarget, UpstreamTls } from './target.js';
import { UpstreamReader } from './reader.js';
import { login, type LoginEnd } from './login.js';
import { requestSsl } from './ssl-request.js';

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
export type UpstreamErrorCode = Extract<ErrorCode, `UPSTREAM_${string}`>;

export class UpstreamError extends PgmoatError {
  readonly fields: ErrorFields | undefined;
  /** `sqlstate` is taken only for UPSTREAM_AUTH and UPSTREAM_LOGIN_REFUSED (the catalogue's 'relayed'). */
  constructor(code: UpstreamErrorCode, message: string, opts: { sqlstate?: string; fields?: ErrorFields; cause?: unknown } = {}) {
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
  const socket = netConnect({
    host: t.host,
    port: t.port,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: 60_000,
    ...(reader ? { onread: reader.option } : {}),
  });
  return whenReady(socket, 'connect', signal, (err) =>
    new UpstreamError('UPSTREAM_CONNECT', `could not connect to ${where(t)}: ${err.code ?? err.message}`, {
      cause: err,
    }),
  );
}

/**
 * Settles when `socket` emits `ready` ('connect', 'secureConnect'). Its first error before that
 * rejects with `failed(err)`; an abort (the connect timeout) destroys it and rejects with the
 * signal's reason.
 */
function whenReady<S extends Socket>(socket: S, ready: 'connect' | 'secureConnect', signal: AbortSignal, failed: (err: NodeJS.ErrnoException) => Error): Promise<S> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(ready, () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(failed(err));
    });
  });
}

/** Sends SSLRequest and reads the one-byte answer: true when the server takes TLS. */
export async function sslRequest(t: UpstreamTarget, socket: Socket, signal: AbortSignal, reader: UpstreamReader | null = null): Promise<boolean> {
  const answer = await requestSsl(socket, signal, reader);
  switch (answer.kind) {
    case 'tls':
    case 'plain':
      return answer.kind === 'tls';
    case 'socket-error':
      throw new UpstreamError('UPSTREAM_LOGIN', `${where(t)}: ${errorMessage(answer.error)}`, { cause: answer.error });
    case 'closed':
      throw new UpstreamError('UPSTREAM_LOGIN', `${where(t)} closed the connection during SSL negotiation`);
    case 'aborted':
      throw answer.reason;
    default:
      throw new UpstreamError('UPSTREAM_PROTOCOL', `${where(t)} sent an invalid answer to SSLRequest: ${invalidSslAnswer(answer)}`);
  }
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

function upstreamTlsOptions(t: UpstreamTarget, tls: UpstreamTls): ConnectionOptions {
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
  return whenReady(tlsConnect({ socket, ...upstreamTlsOptions(t, t.tls) }), 'secureConnect', signal, (err) =>
    new UpstreamError('UPSTREAM_TLS', `TLS to ${where(t)} failed: ${err.code ? `${err.code}: ` : ''}${err.message}`, {
      cause: err,
    }),
  );
}

/** The session after a login that reached ReadyForQuery, or the UpstreamError that says why not. */
async function logIn(t: UpstreamTarget, socket: Socket | TLSSocket, reader: UpstreamReader | null, signal: AbortSignal): Promise<UpstreamSession> {
  const startup = new Map<string, string>([['user', t.user], ['database', t.dbname], ...(t.startupParams ?? new Map<string, string>())]);
  const end = await login({ socket, reader, user: t.user, password: t.password, startup, signal });
  if (end.kind === 'ready') {
    if (end.txStatus !== TxStatus.Idle) throw new UpstreamError('UPSTREAM_PROTOCOL', `${where(t)} was not idle after login`);
    const tlsProtocol = 'getProtocol' in socket ? (socket.getProtocol() ?? undefined) : undefined;
    return { socket, params: end.params, pid: end.pid, secret: end.secret, tlsProtocol, reader };
  }
  throw loginError(t, end);
}

function loginError(t: UpstreamTarget, end: Exclude<LoginEnd, { kind: 'ready' }>): unknown {
  switch (end.kind) {
    case 'refused':
      return new UpstreamError('UPSTREAM_LOGIN_REFUSED', `${where(t)}: ${end.fields.message}`, { sqlstate: end.fields.code, fields: end.fields });
    case 'needs-password':
      return new UpstreamError(
        'UPSTREAM_NO_PASSWORD',
        `${where(t)} asks a password for role "${t.user}", but none is configured (set password_file or password_env for database "${t.label}")`,
      );
    case 'unsupported':
      return new UpstreamError(
        'UPSTREAM_AUTH_UNSUPPORTED',
        `${where(t)} asks role "${t.user}" for ${end.name} authentication, which pgmoat does not support upstream (give the role scram-sha-256, md5, password, trust or cert in the server's pg_hba.conf)`,
      );
    case 'auth-failed':
      // Not UPSTREAM_LOGIN (a socket that failed, worth retrying): a password or SCRAM exchange
      // that does not verify will not verify on the next attempt either.
      return new UpstreamError('UPSTREAM_AUTH', `${where(t)}: ${errorMessage(end.error)}`, {
        sqlstate: isPgmoatError(end.error) && end.error.sqlstate !== undefined ? end.error.sqlstate : SqlState.PROTOCOL_VIOLATION,
        cause: end.error,
      });
    case 'protocol':
      return new UpstreamError('UPSTREAM_PROTOCOL', `${where(t)} ${end.message}`);
    case 'socket-error':
      return new UpstreamError('UPSTREAM_LOGIN', `${where(t)}: ${errorMessage(end.error)}`, { cause: end.error });
    case 'closed':
      return new UpstreamError('UPSTREAM_LOGIN', `${where(t)} closed the connection during login`);
    case 'aborted':
      return end.reason;
    default:
      return assertNever(end, 'login end');
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
        throw new UpstreamError('UPSTREAM_NO_TLS', `${where(t)} does not support SSL, but tls.mode is ${t.tls.mode}`, {
          });
      }
    }
    return await logIn(t, socket, reader, signal);
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
