/**
 * Steps 6 (its second half) and 7: over the verified TLS socket, send the StartupMessage and
 * follow the server up to ReadyForQuery, answering password requests when a password is known.
 * A server that refuses the client certificate without a TLS alert (Node-based servers such as
 * pgmoat) shows it here: the socket closes, or the first reply is a FATAL about the certificate.
 */
import type { TLSSocket } from 'node:tls';
import type { ErrorFields } from '../protocol/error-response.js';
import type { ServerAuthMethod } from '../protocol/login-exchange.js';
import { login as runLogin, type LoginEnd } from '../upstream/login.js';
import { assertNever, errorMessage } from '../util/errors.js';

export interface LoginInput {
  socket: TLSSocket;
  user: string;
  database: string;
  password: string | undefined;
  applicationName: string;
  timeoutMs: number;
  /** An error the socket raised before this step started listening. */
  earlyError: NodeJS.ErrnoException | undefined;
}

export type AuthMethod = ServerAuthMethod;

export type LoginOutcome =
  /** Whether any PostgreSQL message had arrived before; none means the TLS session itself was refused. */
  | { kind: 'tls-error'; error: NodeJS.ErrnoException; replied: boolean }
  | { kind: 'closed'; replied: boolean }
  | { kind: 'timeout'; replied: boolean }
  | { kind: 'error-response'; fields: ErrorFields; replied: boolean; method: AuthMethod | undefined }
  | { kind: 'password-needed'; method: AuthMethod }
  | { kind: 'auth-failed'; method: AuthMethod; message: string }
  | { kind: 'protocol'; message: string }
  | { kind: 'ready'; params: Map<string, string>; method: AuthMethod };

/**
 * Runs the login. On 'ready' the socket stays open and paused for the query step (which ends it);
 * on every other outcome it is destroyed before this resolves.
 */
export async function login(input: LoginInput): Promise<LoginOutcome> {
  const s = input.socket;
  if (input.earlyError) {
    s.destroy();
    return { kind: 'tls-error', error: input.earlyError, replied: false };
  }
  const end = await runLogin({
    socket: s,
    reader: null,
    user: input.user,
    password: input.password,
    startup: { user: input.user, database: input.database, application_name: input.applicationName },
    signal: AbortSignal.timeout(input.timeoutMs),
  });
  return outcomeOf(end);
}

function outcomeOf(end: LoginEnd): LoginOutcome {
  switch (end.kind) {
    case 'ready':
      return { kind: 'ready', params: end.params, method: end.method };
    case 'refused':
      return { kind: 'error-response', fields: end.fields, replied: end.replied, method: end.replied ? end.method : undefined };
    case 'needs-password':
      return { kind: 'password-needed', method: end.method };
    case 'unsupported':
      return {
        kind: 'auth-failed',
        method: end.method,
        message: `the server asks for ${end.name} authentication, which pgmoat doctor does not speak (it speaks SCRAM-SHA-256, md5, password, trust and cert)`,
      };
    case 'auth-failed':
      return { kind: 'auth-failed', method: end.method, message: errorMessage(end.error) };
    case 'protocol':
      return { kind: 'protocol', message: `the server ${end.message}` };
    case 'socket-error':
      return { kind: 'tls-error', error: end.error, replied: end.replied };
    case 'closed':
      return { kind: 'closed', replied: end.replied };
    case 'aborted':
      return { kind: 'timeout', replied: end.replied };
    default:
      return assertNever(end, 'login end');
  }
}
