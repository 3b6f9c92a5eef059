/**
 * Runs the login state machine (protocol/login-exchange.ts) over an open socket, plain or TLS:
 * StartupMessage, the password exchange, ParameterStatus and BackendKeyData up to ReadyForQuery.
 * The gateway's upstream dialer and `pgmoat doctor` both log in through here and differ only in
 * how they word the outcome. Runs once per server connection, never per message.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PasswordAuthClient } from '../auth/password-auth-client.js';
import { LoginExchange, type LoginResult } from '../protocol/login-exchange.js';
import { readFrom, stopReading, type UpstreamReader } from './reader.js';

export interface LoginOptions {
  socket: Socket | TLSSocket;
  /** The plain socket's reader (see reader.ts), or null to read 'data' events. */
  reader: UpstreamReader | null;
  user: string;
  /** Undefined: a request for a password ends the login with 'needs-password'. */
  password: string | undefined;
  /** The StartupMessage's parameters, user and database among them, in order. */
  startup: ReadonlyMap<string, string> | Record<string, string>;
  signal: AbortSignal;
}

/** `replied`: whether the server had sent any whole message before the connection ended. */
export type LoginEnd =
  | LoginResult
  | { kind: 'closed'; replied: boolean }
  | { kind: 'socket-error'; error: NodeJS.ErrnoException; replied: boolean }
  | { kind: 'aborted'; reason: unknown; replied: boolean };

/**
 * On 'ready' the socket is left open and paused, read by nobody: the caller attaches its own
 * reader. On every other end the socket is destroyed.
 */
export function login(o: LoginOptions): Promise<LoginEnd> {
  return new Promise((resolve) => {
    const s = o.socket;
    const end = (e: LoginEnd): void => {
      exchange.abandon();
      stopReading(s, o.reader, onData);
      s.off('error', onError);
      s.off('close', onClose);
      o.signal.removeEventListener('abort', onAbort);
      if (e.kind === 'ready') {
        s.pause();
      } else {
        s.on('error', () => undefined); // whatever the teardown raises is of no interest
        s.destroy();
      }
      resolve(e);
    };
    const exchange = new LoginExchange(new PasswordAuthClient(o.user, o.password), { send: (buf) => s.write(buf), done: end });
    // The exchange reads each message within the call, so views of a shared read buffer are safe.
    const onData = (chunk: Buffer): void => exchange.feed(chunk);
    const onError = (error: NodeJS.ErrnoException): void => end({ kind: 'socket-error', error, replied: exchange.replied });
    const onClose = (): void => end({ kind: 'closed', replied: exchange.replied });
    const onAbort = (): void => end({ kind: 'aborted', reason: o.signal.reason, replied: exchange.replied });
    if (o.signal.aborted) return onAbort();
    if (s.destroyed) return onClose();
    readFrom(s, o.reader, onData);
    s.on('error', onError);
    s.on('close', onClose);
    o.signal.addEventListener('abort', onAbort, { once: true });
    exchange.start(o.startup);
    s.resume();
  });
}
